#include "rlaunch/console.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "rlaunch/log.h"
#include "rlaunch/write_all.h"

#define CHUNK_MIN (16u << 10) /* small lines share a chunk: fewer mallocs, fewer writes */
#define BATCH_MAX 64          /* chunks per writev */
#define WRITE_MAX (64u << 10) /* bytes per writev: a slow console shows progress often */

struct chunk {
	struct chunk *next;
	int fd;
	size_t len, cap;
	char data[];
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t work;     /* the writer waits for chunks */
	pthread_cond_t progress; /* rl_console_stop waits for bytes written */
	struct chunk *head, *tail;
	size_t queued;           /* bytes queued or being written */
	uint64_t written;        /* bytes written or dropped by the writer, ever */
	bool running, quit, congested, given_up;
	pthread_t thread;
	uv_async_t relief;
	uv_loop_t *loop;
	void (*on_relief)(void *ctx);
	void *relief_ctx;
} con = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* Bytes written (or dropped: the console is gone) by the writer. False once
 * rl_console_stop gave the console up: the handle is closed, stop there.
 * Called with con.mu held. */
static bool account_locked(size_t n)
{
	if (con.given_up)
		return false;
	con.queued -= n;
	con.written += n;
	if (con.congested && con.queued < RL_CONSOLE_LOW_WATER) {
		con.congested = false;
		uv_async_send(&con.relief);
	}
	pthread_cond_broadcast(&con.progress);
	return true;
}

/* writev until done, accounting every return, so that a slow console shows
 * progress at least every WRITE_MAX bytes. EAGAIN (someone else made the fd
 * non-blocking) waits in poll; any other error drops the rest. False when
 * the console was given up meanwhile. */
static bool write_batch(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		size_t done = 0;
		bool more;

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			poll(&pfd, 1, -1);
			continue;
		}
		if (w <= 0) { /* console gone (EPIPE): drop the rest */
			for (int i = 0; i < n; i++)
				done += iov[i].iov_len;
			n = 0;
		} else {
			done = (size_t)w;
			while (n > 0 && (size_t)w >= iov->iov_len) {
				w -= (ssize_t)iov->iov_len;
				iov++;
				n--;
			}
			if (n > 0) {
				iov->iov_base = (char *)iov->iov_base + w;
				iov->iov_len -= (size_t)w;
			}
		}
		pthread_mutex_lock(&con.mu);
		more = account_locked(done);
		pthread_mutex_unlock(&con.mu);
		if (!more)
			return false;
	}
	return true;
}

static void *writer_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct chunk *batch, *c;
		struct iovec iov[BATCH_MAX];
		size_t bytes = 0;
		bool more;
		int n = 0;

		pthread_mutex_lock(&con.mu);
		while (!con.head && !con.quit)
			pthread_cond_wait(&con.work, &con.mu);
		if (!con.head) {
			pthread_mutex_unlock(&con.mu);
			return NULL;
		}
		/* detach a run of chunks for one fd, WRITE_MAX bytes or one chunk;
		 * new writes go to a fresh tail */
		batch = con.head;
		for (c = batch; c && c->fd == batch->fd && n < BATCH_MAX &&
				(n == 0 || bytes + c->len <= WRITE_MAX); c = c->next) {
			iov[n].iov_base = c->data;
			iov[n++].iov_len = c->len;
			bytes += c->len;
		}
		con.head = c;
		if (!c)
			con.tail = NULL;
		pthread_mutex_unlock(&con.mu);

		more = write_batch(batch->fd, iov, n);
		for (int i = 0; i < n; i++) {
			c = batch->next;
			free(batch);
			batch = c;
		}
		if (!more)
			return NULL; /* given up while this write hung */
	}
}

static void on_relief(uv_async_t *h)
{
	(void)h;
	if (con.on_relief)
		con.on_relief(con.relief_ctx);
}

static void log_sink(const char *line, size_t len)
{
	rl_console_write(STDERR_FILENO, line, len);
}

int rl_console_start(uv_loop_t *loop)
{
	pthread_condattr_t attr;
	sigset_t all, old;
	int rc;

	if (con.running)
		return -EALREADY;
	if (con.given_up)
		return -EBUSY; /* a writer may still hang in write(2) */
	rc = uv_async_init(loop, &con.relief, on_relief);
	if (rc < 0)
		return rc;
	uv_unref((uv_handle_t *)&con.relief);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&con.progress, &attr);
	pthread_condattr_destroy(&attr);
	pthread_cond_init(&con.work, NULL);
	con.loop = loop;
	con.quit = con.congested = false;

	/* signals go to the loop thread, never to the writer */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&con.thread, NULL, writer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		uv_close((uv_handle_t *)&con.relief, NULL);
		uv_run(loop, UV_RUN_NOWAIT);
		return -rc;
	}
	pthread_mutex_lock(&con.mu);
	con.running = true;
	pthread_mutex_unlock(&con.mu);
	rl_log_set_sink(log_sink); /* for good: rl_console_write writes directly once stopped */
	return 0;
}

void rl_console_write(int fd, const char *buf, size_t len)
{
	struct chunk *c;

	pthread_mutex_lock(&con.mu);
	if (!con.running) {
		bool drop = con.given_up;
		pthread_mutex_unlock(&con.mu);
		if (!drop)
			rl_write_all(fd, buf, len);
		return;
	}
	c = con.tail;
	if (!c || c->fd != fd || c->cap - c->len < len) {
		size_t cap = len > CHUNK_MIN ? len : CHUNK_MIN;
		c = malloc(sizeof(*c) + cap);
		if (!c) {
			pthread_mutex_unlock(&con.mu);
			return; /* out of memory: the line is lost, supervision is not */
		}
		c->next = NULL;
		c->fd = fd;
		c->len = 0;
		c->cap = cap;
		if (con.tail)
			con.tail->next = c;
		else
			con.head = c;
		con.tail = c;
	}
	memcpy(c->data + c->len, buf, len);
	c->len += len;
	con.queued += len;
	if (con.queued > RL_CONSOLE_HIGH_WATER)
		con.congested = true;
	pthread_cond_signal(&con.work);
	pthread_mutex_unlock(&con.mu);
}

bool rl_console_congested(void)
{
	bool congested;

	pthread_mutex_lock(&con.mu);
	congested = con.congested;
	pthread_mutex_unlock(&con.mu);
	return congested;
}

void rl_console_on_relief(void (*fn)(void *ctx), void *ctx)
{
	con.on_relief = fn;
	con.relief_ctx = ctx;
}

static void deadline_in(struct timespec *ts, int seconds)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += seconds;
}

void rl_console_stop(void)
{
	struct timespec deadline;
	uint64_t seen;
	bool stalled = false;

	pthread_mutex_lock(&con.mu);
	if (!con.running) {
		pthread_mutex_unlock(&con.mu);
		return;
	}
	seen = con.written;
	deadline_in(&deadline, RL_CONSOLE_EXIT_STALL_S);
	while (con.queued > 0 && !stalled) {
		int rc = pthread_cond_timedwait(&con.progress, &con.mu, &deadline);
		if (con.written != seen) {
			seen = con.written;
			deadline_in(&deadline, RL_CONSOLE_EXIT_STALL_S);
		} else if (rc == ETIMEDOUT) {
			stalled = true;
		}
	}
	con.running = false;
	if (stalled) {
		/* the writer sits in write(2) on a console that does not read: drop
		 * what waits behind it and leave it there; it ends with the process.
		 * Later writes are dropped too: they would block the same way. */
		struct chunk *c = con.head, *next;
		con.given_up = true;
		for (; c; c = next) {
			next = c->next;
			free(c);
		}
		con.head = con.tail = NULL;
		con.queued = 0;
		pthread_mutex_unlock(&con.mu);
		pthread_detach(con.thread);
	} else {
		con.quit = true;
		pthread_cond_signal(&con.work);
		pthread_mutex_unlock(&con.mu);
		pthread_join(con.thread, NULL);
	}
	con.on_relief = NULL;
	uv_close((uv_handle_t *)&con.relief, NULL);
	uv_run(con.loop, UV_RUN_NOWAIT);
}
