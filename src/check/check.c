#include "rlaunch/check.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rlaunch/log.h"
#include "rlaunch/nccl_allreduce.h"
#include "rlaunch/ofi_allreduce.h"
#include "rlaunch/parse.h"
#include "rlaunch/strv.h"

/* Collective tags: a phase bit above every iteration number (iterations
 * are at most 100000 < 2^20), so the phases can never be mistaken for
 * each other by a rank that is still one phase behind. */
#define RL_TAG_NODE_PHASE (1u << 20)
#define RL_TAG_ALL_PHASE (2u << 20)

int rl_ctl_send(int fd, struct rl_wbuf *w)
{
	size_t off = 0;

	if (w->err)
		return w->err;
	while (off < w->len) {
		ssize_t n = write(fd, w->data + off, w->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		off += (size_t)n;
	}
	return 0;
}

int rl_ctl_recv(int fd, struct rl_wire_reader *r, int timeout_ms, uint8_t *type,
		const uint8_t **payload, size_t *len)
{
	for (;;) {
		uint8_t buf[65536];
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int rc = rl_wire_reader_next(r, type, payload, len);

		if (rc != 0)
			return rc;
		rc = poll(&pfd, 1, timeout_ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0)
			return 0;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		if ((rc = rl_wire_reader_feed(r, buf, (size_t)n)) < 0)
			return rc;
	}
}

static bool hook(const struct rl_check_params *p, const char *name)
{
	const char *v = rl_env_lookup(p->envp, name);
	long r;
	return v && rl_parse_long(v, 0, 0x7fffffff, &r) == 0 && r == p->rank;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Small values, so that sums stay exact in float for any job size
 * (7 * 8 * ranks < 2^24 up to about 300k ranks). */
static int weight(int rank)
{
	return rank % 8 + 1;
}

static void fill(float *buf, size_t count, int rank)
{
	for (size_t i = 0; i < count; i++)
		buf[i] = (float)(weight(rank) * (int)(i % 7 + 1));
}

/* The two backends behind one call: sum buf over this node's ranks
 * (node) or over all ranks; *secs is the time of the collective alone. */
struct backend {
	struct rl_ofi *ofi;
	struct rl_nccl *nccl;
	int *group;
};

static int reduce(struct backend *b, const struct rl_check_params *p, bool node, float *buf,
		  size_t count, uint32_t tag, double *secs, char *err, size_t errlen)
{
	int n = node ? p->local_world : p->world, first = node ? p->node_rank * p->local_world : 0;
	double t0;
	int rc;

	if (b->nccl)
		return rl_nccl_allreduce(b->nccl, node, buf, count, p->timeout_s, secs, err, errlen);
	for (int i = 0; i < n; i++)
		b->group[i] = first + i;
	t0 = now_s();
	rc = rl_ofi_allreduce(b->ofi, b->group, n, p->rank - first, buf, count, tag, p->timeout_s,
			      err, errlen);
	*secs = now_s() - t0;
	return rc;
}

/* One phase: warm-up, timed iterations, exact verification. Returns a
 * status; busbw in KB/s. */
static int phase(struct backend *b, const struct rl_check_params *p, bool node, float *buf,
		 size_t count, uint32_t tag, uint64_t *busbw_kbps, struct rl_check_result *res)
{
	int n = node ? p->local_world : p->world, first = node ? p->node_rank * p->local_world : 0;
	long sum = 0;
	double total = 0;
	char err[256];

	for (int g = 0; g < n; g++)
		sum += weight(first + g);
	for (int it = 0; it <= p->iters; it++) { /* iteration 0 is the warm-up */
		double secs = 0;
		int rc;

		fill(buf, count, p->rank);
		if (hook(p, "RLAUNCH_TEST_CHECK_CORRUPT"))
			buf[count / 3] += 1.0f;
		rc = reduce(b, p, node, buf, count, tag + (uint32_t)it, &secs, err, sizeof(err));
		if (rc < 0) {
			snprintf(res->message, sizeof(res->message), "%.200s", err);
			return rc == -ETIMEDOUT ? RL_CHECK_TIMEOUT : RL_CHECK_COMM_FAILED;
		}
		if (it > 0)
			total += secs;
		for (size_t i = 0; i < count; i++) {
			if (buf[i] != (float)(sum * (long)(i % 7 + 1))) {
				res->bad_index = (int64_t)i;
				snprintf(res->message, sizeof(res->message), "element %zu is %g, expected "
					 "%ld", i, (double)buf[i], sum * (long)(i % 7 + 1));
				return RL_CHECK_WRONG_DATA;
			}
		}
	}
	{
		double algbw = (double)count * sizeof(float) / (total / p->iters);
		*busbw_kbps = (uint64_t)(algbw * 2.0 * (n - 1) / n / 1000.0);
	}
	return RL_CHECK_OK;
}

static int report(int ctl, struct rl_check_result *res)
{
	struct rl_wbuf w;
	rl_wbuf_init(&w);
	rl_wire_put_check_results(&w, res, 1);
	rl_ctl_send(ctl, &w);
	rl_wbuf_release(&w);
	return 0;
}

/* Open the backend and say what the others need from this rank: its
 * libfabric address, or (rank 0) NCCL's unique id. */
static int open_backend(struct backend *b, const struct rl_check_params *p,
			struct rl_check_addr *self, char *err, size_t errlen)
{
	bool fail = hook(p, "RLAUNCH_TEST_CHECK_INIT_FAIL");
	size_t len = 0;
	int rc;

	if (p->backend == RL_BACKEND_NCCL) {
		rc = rl_nccl_open(&b->nccl, fail ? "/nonexistent/rlaunch-test/libnccl.so.2" : p->nccl_lib,
				  p->device, err, errlen);
		if (rc == 0 && p->rank == 0)
			rc = rl_nccl_unique_id(b->nccl, self->bytes, err, errlen);
		self->len = p->rank == 0 ? RL_NCCL_ID_BYTES : 1;
		return rc;
	}
	rc = rl_ofi_open(&b->ofi, fail ? "rlaunch-test-no-provider" : p->provider, p->bind_addr,
			 err, errlen);
	if (rc == 0)
		rc = rl_ofi_address(b->ofi, self->bytes, &len, err, errlen);
	self->len = (uint16_t)len;
	return rc;
}

static int connect_backend(struct backend *b, const struct rl_check_params *p,
			   const uint8_t *table, char *err, size_t errlen)
{
	if (b->nccl)
		return rl_nccl_init(b->nccl, table, p->world, p->rank, p->node_rank, p->timeout_s, err,
				    errlen);
	return rl_ofi_set_peers(b->ofi, table, RL_CHECK_ADDR_MAX, p->world, err, errlen);
}

int rl_check_run(int ctl, const struct rl_check_params *p)
{
	struct rl_check_result res = { .rank = p->rank, .bad_index = -1 };
	struct rl_check_addr self = { .rank = p->rank };
	struct backend b = { 0 };
	struct rl_wire_reader reader;
	struct rl_wbuf w;
	uint8_t *table = NULL;
	size_t count = (size_t)p->bytes / sizeof(float);
	int status = 0;
	float *buf = NULL;
	char err[256];

	rl_wire_reader_init(&reader, RL_WIRE_MAX_FRAME);
	if (open_backend(&b, p, &self, err, sizeof(err)) < 0) {
		res.status = RL_CHECK_INIT_FAILED;
		snprintf(res.message, sizeof(res.message), "%.200s", err);
		report(ctl, &res); /* the coordinator ends the check at once */
		goto out;
	}
	rl_wbuf_init(&w);
	rl_wire_put_check_addrs(&w, &self, 1);
	rl_ctl_send(ctl, &w);
	rl_wbuf_release(&w);

	/* every rank's address, or a NO-GO */
	for (;;) {
		uint8_t type;
		const uint8_t *payload;
		size_t plen, n;
		struct rl_check_addr *all;
		int rc = rl_ctl_recv(ctl, &reader, -1, &type, &payload, &plen);

		if (rc < 0)
			goto out;
		if (type == RL_MSG_CHECK_VERDICT) {
			status = RL_CHECK_SAW_NOGO;
			goto out;
		}
		if (type != RL_MSG_CHECK_ADDRS ||
		    rl_wire_get_check_addrs(payload, plen, (size_t)p->world, &all, &n) < 0 ||
		    n != (size_t)p->world)
			continue;
		table = calloc((size_t)p->world, RL_CHECK_ADDR_MAX);
		for (size_t i = 0; table && i < n; i++)
			if (all[i].rank < p->world)
				memcpy(table + (size_t)all[i].rank * RL_CHECK_ADDR_MAX, all[i].bytes, all[i].len);
		free(all);
		break;
	}
	if (!table || connect_backend(&b, p, table, err, sizeof(err)) < 0) {
		res.status = RL_CHECK_INIT_FAILED;
		snprintf(res.message, sizeof(res.message), "%.200s", table ? err : "out of memory");
		report(ctl, &res);
		goto out;
	}

	buf = malloc(count * sizeof(float));
	b.group = calloc((size_t)p->world, sizeof(int));
	if (!buf || !b.group) {
		res.status = RL_CHECK_INIT_FAILED;
		snprintf(res.message, sizeof(res.message), "out of memory for %ld bytes", p->bytes);
		report(ctl, &res);
		goto out;
	}
	/* phase 1: this node's ranks (STRICT_PACK: consecutive ranks) */
	if (p->local_world > 1)
		res.status = (uint32_t)phase(&b, p, true, buf, count, RL_TAG_NODE_PHASE,
					     &res.node_busbw_kbps, &res);
	if (res.status == RL_CHECK_OK && hook(p, "RLAUNCH_TEST_CHECK_HANG"))
		for (;;)
			pause();
	/* phase 2: every rank */
	if (res.status == RL_CHECK_OK && p->world > 1)
		res.status = (uint32_t)phase(&b, p, false, buf, count, RL_TAG_ALL_PHASE,
					     &res.all_busbw_kbps, &res);
	report(ctl, &res);
out:
	/* endpoints first: after a failed step, operations on buf may still be posted */
	rl_ofi_close(b.ofi);
	rl_nccl_close(b.nccl);
	free(buf);
	free(b.group);
	free(table);
	rl_wire_reader_release(&reader);
	return status;
}
