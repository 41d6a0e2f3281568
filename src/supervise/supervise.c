#include "rlaunch/supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "rlaunch/exit_codes.h"
#include "rlaunch/log.h"
#include "rlaunch/console.h"
#include "rlaunch/rank_output.h"
#include "rlaunch/reaper.h"
#include "rlaunch/summary.h"
#include "rlaunch/wire.h"
#include "rlaunch/worker_stage.h"

#define POLL_MS 50
#define KILL_WAIT_MS 5000   /* after SIGKILL, how long to wait for the kernel */
#define DRAIN_WAIT_MS 1000  /* after the last process, how long output may lag */
#define MAX_ORPHANS 256

static const int forwarded_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
#define NSIGNALS (sizeof(forwarded_signals) / sizeof(forwarded_signals[0]))

enum job_state { JOB_IDLE, JOB_RUNNING, JOB_STOPPING, JOB_CLOSING, JOB_CLOSED };

struct rank_proc {
	struct rl_job *job;
	int local;
	uv_process_t proc;
	struct rl_output_stream out, err;
	bool piped;            /* out/err are pipes read by the agent */
	bool proc_init, ctl_init; /* handles to close at the end of the attempt */
	uv_pipe_t ctl;
	struct rl_wire_reader ctl_reader;
	int log_fd;
	pid_t pid;
	bool running;
	struct rl_failure exit;  /* filled when it exits */
};

struct rl_job {
	const struct rl_job_params *p;
	struct rl_job_events ev;
	uv_loop_t *loop;
	enum job_state state;
	struct rank_proc *ranks;
	int nranks;
	int live;              /* rank processes not yet exited */
	int pending_closes;    /* handles of this attempt still closing */
	int restart_count;
	uv_signal_t signals[NSIGNALS];
	uv_signal_t sigchld;
	uv_timer_t poll;
	uint64_t stop_started, kill_sent, all_gone_at;
	bool killed;
	int stop_sig;          /* what the ranks got when the stop began */
	pid_t signalled[MAX_ORPHANS]; /* orphans that got stop_sig already */
	size_t nsignalled;
	bool stop_by_signal;   /* this attempt is stopping because of a signal */
	bool system_error;
	bool have_root;        /* a local rank failed in this attempt */
	struct rl_failure *others;
	size_t nothers;
	bool exec_failure_reported;
};

static void begin_stop(struct rl_job *job, int sig);

static void now_realtime(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

static size_t rank_pids(struct rl_job *job, pid_t *out)
{
	size_t n = 0;
	for (int i = 0; i < job->nranks; i++)
		if (job->ranks[i].running)
			out[n++] = job->ranks[i].pid;
	return n;
}

/* Send sig to every rank's group and every adopted orphan. Returns whether
 * any process of the job is still there. */
static bool already_signalled(struct rl_job *job, pid_t pid)
{
	for (size_t i = 0; i < job->nsignalled; i++)
		if (job->signalled[i] == pid)
			return true;
	return false;
}

/* Send sig to every rank's group and every adopted orphan; sig 0 only
 * looks. Returns whether any process of the job is still there. Orphans
 * adopted after the stop signal went out get it too, once each, so they
 * are not left to SIGKILL at the end of the grace period. */
static bool signal_everything(struct rl_job *job, int sig)
{
	pid_t exclude[RL_MAX_LOCAL_RANKS], orphans[MAX_ORPHANS];
	size_t nexclude = rank_pids(job, exclude);
	size_t norphans = rl_reaper_sweep(getpid(), exclude, nexclude, orphans, MAX_ORPHANS);
	bool any = job->live > 0 || norphans > 0;

	for (int i = 0; i < job->nranks; i++) {
		struct rank_proc *r = &job->ranks[i];
		if (r->pid <= 0)
			continue;
		if (rl_signal_group(r->pid, sig))
			any = true;
		else if (!r->running)
			r->pid = 0; /* the group is gone: its id may be reused, never signal it again */
	}
	for (size_t i = 0; i < norphans && i < MAX_ORPHANS; i++) {
		int s = sig;
		if (s == 0 && job->state == JOB_STOPPING && !job->killed &&
		    !already_signalled(job, orphans[i]))
			s = job->stop_sig;
		if (s == 0)
			continue;
		kill(orphans[i], s);
		if (s == job->stop_sig && job->nsignalled < MAX_ORPHANS)
			job->signalled[job->nsignalled++] = orphans[i];
	}
	return any;
}

static bool output_drained(struct rl_job *job)
{
	for (int i = 0; i < job->nranks; i++) {
		const struct rank_proc *r = &job->ranks[i];
		if (r->piped && (!r->out.eof || !r->err.eof))
			return false;
	}
	return true;
}

/* ---- closing an attempt ---------------------------------------------- */

static void attempt_closed(struct rl_job *job)
{
	struct rl_attempt_report report = { job->system_error, false, job->others, job->nothers };

	for (int i = 0; i < job->nranks; i++) {
		struct rank_proc *r = &job->ranks[i];
		if (r->log_fd >= 0) {
			close(r->log_fd);
			r->log_fd = -1;
		}
		/* the exec failure report may arrive after the exit */
		if (r->exit.exec_error)
			report.exec_failure = true;
	}
	job->state = JOB_IDLE;
	job->ev.attempt_over(job->ev.ctx, &report);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct rank_proc *r = h->data;
	struct rl_job *job = r->job;
	if (--job->pending_closes == 0)
		attempt_closed(job);
}

static void on_stream_closed(struct rl_output_stream *s)
{
	struct rl_job *job = s->data;
	if (--job->pending_closes == 0)
		attempt_closed(job);
}

static void close_attempt(struct rl_job *job)
{
	job->state = JOB_CLOSING;
	uv_timer_stop(&job->poll);
	job->pending_closes = 1; /* held until every close is queued */
	for (int i = 0; i < job->nranks; i++) {
		struct rank_proc *r = &job->ranks[i];
		if (r->proc_init) {
			job->pending_closes++;
			uv_close((uv_handle_t *)&r->proc, on_handle_closed);
		}
		if (r->ctl_init) {
			job->pending_closes++;
			uv_close((uv_handle_t *)&r->ctl, on_handle_closed);
		}
		r->proc_init = r->ctl_init = false;
		if (r->piped) {
			job->pending_closes += 2;
			rl_output_stream_close(&r->out);
			rl_output_stream_close(&r->err);
			r->piped = false;
		}
	}
	if (--job->pending_closes == 0)
		attempt_closed(job);
}

/* ---- stopping ---------------------------------------------------------- */

/* While stopping: is everything gone and all output read? Then close the
 * attempt. Called on every event that can make it true, not only on the
 * poll tick, so a finished job ends at once. Returns whether it closed. */
static bool stop_complete(struct rl_job *job)
{
	uint64_t now = uv_now(job->loop);

	if (job->state != JOB_STOPPING)
		return false;
	if (job->live > 0 || signal_everything(job, 0))
		return false;
	if (!job->all_gone_at) {
		job->all_gone_at = now;
		/* no one writes any more: read what is left, congested console or not */
		for (int i = 0; i < job->nranks; i++) {
			if (job->ranks[i].piped) {
				rl_output_stream_drain(&job->ranks[i].out);
				rl_output_stream_drain(&job->ranks[i].err);
			}
		}
	}
	if (!output_drained(job) && now - job->all_gone_at < DRAIN_WAIT_MS)
		return false;
	close_attempt(job);
	return true;
}

/* The console caught up: ranks paused for it may print again. */
static void on_console_relief(void *ctx)
{
	struct rl_job *job = ctx;
	for (int i = 0; i < job->nranks; i++) {
		if (job->ranks[i].piped) {
			rl_output_stream_resume(&job->ranks[i].out);
			rl_output_stream_resume(&job->ranks[i].err);
		}
	}
}

static void on_stream_eof(struct rl_output_stream *s)
{
	stop_complete(s->data);
}

static void on_poll(uv_timer_t *t)
{
	struct rl_job *job = t->data;
	uint64_t now = uv_now(job->loop);

	if (stop_complete(job))
		return;
	if (!job->killed && now - job->stop_started >= (uint64_t)(job->p->opts->grace_s * 1000)) {
		if (job->p->opts->grace_s > 0)
			rl_log("ranks still running %.1f s after the stop signal; sending SIGKILL",
			       job->p->opts->grace_s);
		signal_everything(job, SIGKILL);
		job->killed = true;
		job->kill_sent = now;
	} else if (job->killed && now - job->kill_sent >= KILL_WAIT_MS) {
		rl_warn("some processes did not exit %d s after SIGKILL (stuck in the kernel?); giving up on them",
			KILL_WAIT_MS / 1000);
		job->system_error = true; /* never restart on top of them */
		close_attempt(job);
	} else if (job->killed) {
		signal_everything(job, SIGKILL); /* newly adopted orphans */
	}
}

static void begin_stop(struct rl_job *job, int sig)
{
	job->state = JOB_STOPPING;
	job->stop_started = uv_now(job->loop);
	job->killed = false;
	job->all_gone_at = 0;
	job->stop_sig = sig;
	job->nsignalled = 0;
	signal_everything(job, sig);
	if (!stop_complete(job))
		uv_timer_start(&job->poll, on_poll, POLL_MS, POLL_MS);
}

/* ---- events ------------------------------------------------------------ */

static void on_rank_exit(uv_process_t *proc, int64_t status, int term_signal)
{
	struct rank_proc *r = proc->data;
	struct rl_job *job = r->job;

	r->running = false;
	job->live--;
	r->exit.exit_code = (int)status;
	r->exit.signal = term_signal;
	now_realtime(&r->exit.when);

	if (status != 0 || term_signal != 0) {
		if (job->state == JOB_RUNNING && !job->have_root) {
			job->have_root = true;
			begin_stop(job, SIGTERM);
			job->ev.rank_failed(job->ev.ctx, &r->exit);
			return;
		}
		/* a rank that failed on its own in the same instant, not from our stop signal */
		if (!job->stop_by_signal && uv_now(job->loop) == job->stop_started &&
		    term_signal != SIGTERM && term_signal != SIGKILL &&
		    job->nothers < (size_t)job->nranks && job->have_root)
			job->others[job->nothers++] = r->exit;
	}
	if (job->state == JOB_RUNNING && job->live == 0)
		begin_stop(job, SIGTERM);
	else
		stop_complete(job);
}

static void kill_now(struct rl_job *job)
{
	if (job->state != JOB_STOPPING || job->killed)
		return;
	rl_log("sending SIGKILL to all ranks");
	signal_everything(job, SIGKILL);
	job->killed = true;
	job->kill_sent = uv_now(job->loop);
}

bool rl_is_stop_signal(int sig)
{
	return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT;
}

bool rl_is_forwarded_signal(int sig)
{
	return rl_is_stop_signal(sig) || sig == SIGUSR1 || sig == SIGUSR2;
}

/* A signal, received here or passed on by the controller. */
static void act_on_signal(struct rl_job *job, int sig)
{
	if (!rl_is_stop_signal(sig)) {
		if (job->state == JOB_RUNNING || job->state == JOB_STOPPING)
			signal_everything(job, sig);
		return;
	}
	if (job->state == JOB_RUNNING) {
		job->stop_by_signal = true;
		begin_stop(job, sig);
	} else {
		kill_now(job);
	}
}

static void on_signal(uv_signal_t *h, int sig)
{
	struct rl_job *job = h->data;
	const char *abbrev = sigabbrev_np(sig);

	if (rl_is_stop_signal(sig)) {
		if (job->state == JOB_RUNNING)
			rl_log("received SIG%s; forwarding it to all ranks and stopping the job "
			       "(again to kill now)", abbrev ? abbrev : "?");
		act_on_signal(job, sig);
		job->ev.stop_signal(job->ev.ctx, sig);
	} else {
		act_on_signal(job, sig);
		job->ev.user_signal(job->ev.ctx, sig);
	}
}

void rl_job_deliver_signal(struct rl_job *job, int sig)
{
	act_on_signal(job, sig);
}

void rl_job_abort(struct rl_job *job)
{
	if (job->state == JOB_RUNNING)
		begin_stop(job, SIGTERM);
}

static void on_sigchld(uv_signal_t *h, int sig)
{
	struct rl_job *job = h->data;
	pid_t exclude[RL_MAX_LOCAL_RANKS], live[1];
	(void)sig;
	/* reap adopted orphans that exited; ranks are libuv's to reap */
	rl_reaper_sweep(getpid(), exclude, rank_pids(job, exclude), live, 0);
}

static void on_ctl_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char scratch[65536];
	(void)h;
	(void)suggested;
	*buf = uv_buf_init(scratch, sizeof(scratch));
}

static void on_exec_failed(struct rank_proc *r, int error)
{
	if (error <= 0 || r->exit.exec_error)
		return;
	r->exit.exec_error = error;
	if (!r->job->exec_failure_reported) {
		r->job->exec_failure_reported = true;
		rl_log("cannot run '%s': %s", r->job->p->command[0],
		       error == ENOENT ? "command or its interpreter not found" : strerror(error));
	}
}

/* Frames from a rank's worker stage. A rank may only speak for itself. */
static void on_ctl_frame(struct rank_proc *r, uint8_t type, const uint8_t *p, size_t n)
{
	struct rl_job *job = r->job;
	int rank = job->p->plan->slots[r->local].rank;
	uint32_t v;

	switch (type) {
	case RL_MSG_EXEC_FAILED:
		if (rl_wire_get_u32(p, n, &v) == 0)
			on_exec_failed(r, (int)v);
		break;
	case RL_MSG_CHECK_ADDRS: {
		struct rl_check_addr *a;
		size_t count;
		if (rl_wire_get_check_addrs(p, n, 1, &a, &count) == 0) {
			a[0].rank = rank;
			if (job->ev.check_addrs)
				job->ev.check_addrs(job->ev.ctx, a, count);
			free(a);
		}
		break;
	}
	case RL_MSG_CHECK_RESULTS: {
		struct rl_check_result *res;
		size_t count;
		if (rl_wire_get_check_results(p, n, 1, &res, &count) == 0) {
			res[0].rank = rank;
			if (job->ev.check_results)
				job->ev.check_results(job->ev.ctx, res, count);
			free(res);
		}
		break;
	}
	default:
		break;
	}
}

static void on_ctl_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct rank_proc *r = s->data;
	const uint8_t *payload;
	size_t plen;
	uint8_t type;
	int rc;

	if (nread < 0) {
		uv_read_stop(s);
		return;
	}
	if (rl_wire_reader_feed(&r->ctl_reader, buf->base, (size_t)nread) < 0) {
		uv_read_stop(s);
		return;
	}
	while ((rc = rl_wire_reader_next(&r->ctl_reader, &type, &payload, &plen)) == 1)
		on_ctl_frame(r, type, payload, plen);
	if (rc < 0)
		uv_read_stop(s);
}

struct ctl_write {
	uv_write_t req;
	uint8_t data[];
};

static void on_ctl_written(uv_write_t *req, int status)
{
	(void)status;
	free(req);
}

void rl_job_send_to_ranks(struct rl_job *job, const uint8_t *frame, size_t len)
{
	for (int i = 0; i < job->nranks; i++) {
		struct rank_proc *r = &job->ranks[i];
		struct ctl_write *w;
		uv_buf_t b;

		if (!r->running || !r->ctl_init)
			continue;
		w = malloc(sizeof(*w) + len);
		if (!w)
			continue;
		memcpy(w->data, frame, len);
		b = uv_buf_init((char *)w->data, (unsigned)len);
		if (uv_write(&w->req, (uv_stream_t *)&r->ctl, &b, 1, on_ctl_written) < 0)
			free(w);
	}
}

/* ---- starting ranks ----------------------------------------------------- */

static int open_log(struct rl_job *job, struct rank_proc *r)
{
	char path[4096];
	const struct rl_rank_slot *s = &job->p->plan->slots[r->local];

	r->log_fd = -1;
	if (!job->p->opts->log_dir)
		return 0;
	snprintf(path, sizeof(path), "%s/rank%d.log", job->p->opts->log_dir, s->rank);
	r->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (r->log_fd < 0) {
		rl_log("cannot open log file '%s': %s", path, strerror(errno));
		return -errno;
	}
	if (job->restart_count > 0) {
		char header[96];
		int n = snprintf(header, sizeof(header), "---- rlaunch: restart %d ----\n",
				 job->restart_count);
		if (write(r->log_fd, header, (size_t)n) < 0)
			return 0;
	}
	return 0;
}

static int spawn_rank(struct rl_job *job, struct rank_proc *r)
{
	const struct rl_options *o = job->p->opts;
	const struct rl_rank_slot *slot = &job->p->plan->slots[r->local];
	bool shown = rl_options_shows_rank(o, r->local);
	struct rl_rank_env_input env_in = job->p->env_in;
	struct rl_strv env, args;
	uv_process_options_t po;
	uv_stdio_container_t stdio[4];
	char prefix[32] = "";
	int rc;

	r->job = job;
	r->pid = 0;
	r->running = false;
	rl_wire_reader_release(&r->ctl_reader);
	rl_wire_reader_init(&r->ctl_reader, RL_WIRE_MAX_FRAME);
	memset(&r->exit, 0, sizeof(r->exit));
	r->exit.rank = slot->rank;
	r->exit.local_rank = r->local;
	r->exit.node_rank = job->p->plan->node_rank;
	r->exit.host = job->p->host;
	r->piped = o->prefix || o->log_dir || !shown;
	if (o->prefix)
		snprintf(prefix, sizeof(prefix), "[rank%d]:", slot->rank);

	/* handles initialised here are closed at the end of the attempt, spawned or not */
	r->ctl_init = uv_pipe_init(job->loop, &r->ctl, 0) == 0;
	r->ctl.data = r;
	r->proc.data = r;
	if (r->piped) {
		rl_output_stream_init(job->loop, &r->out, shown ? STDOUT_FILENO : -1, -1, prefix);
		rl_output_stream_init(job->loop, &r->err, shown ? STDERR_FILENO : -1, -1, prefix);
		r->out.data = r->err.data = job;
		r->out.on_closed = r->err.on_closed = on_stream_closed;
		r->out.on_eof = r->err.on_eof = on_stream_eof;
	}

	env_in.restart_count = job->restart_count;
	if (rl_rank_env_build(&env, &env_in, r->local) < 0)
		return UV_ENOMEM;
	if (rl_worker_stage_argv(&args, getpid(), slot->gpu, o->affinity == RL_AFFINITY_GPU,
				 job->p->check_spec, job->p->command) < 0) {
		rl_strv_release(&env);
		return UV_ENOMEM;
	}
	if (open_log(job, r) < 0) {
		rc = UV_EIO;
		goto out;
	}
	r->out.log_fd = r->err.log_fd = r->log_fd;

	stdio[0].flags = UV_IGNORE;
	if (r->piped) {
		stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
		stdio[1].data.stream = (uv_stream_t *)&r->out.pipe;
		stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
		stdio[2].data.stream = (uv_stream_t *)&r->err.pipe;
	} else {
		stdio[1].flags = UV_INHERIT_FD;
		stdio[1].data.fd = STDOUT_FILENO;
		stdio[2].flags = UV_INHERIT_FD;
		stdio[2].data.fd = STDERR_FILENO;
	}
	stdio[3].flags = UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE;
	stdio[3].data.stream = (uv_stream_t *)&r->ctl;

	memset(&po, 0, sizeof(po));
	po.exit_cb = on_rank_exit;
	po.file = "/proc/self/exe"; /* this very binary, even if replaced on disk */
	po.args = args.v;
	po.env = env.v;
	po.flags = UV_PROCESS_DETACHED; /* setsid: own session and process group */
	po.stdio_count = 4;
	po.stdio = stdio;

	rc = uv_spawn(job->loop, &r->proc, &po);
	r->proc_init = true; /* uv_spawn initialises the handle even when it fails */
	if (rc == 0) {
		r->pid = r->proc.pid;
		r->exit.pid = r->pid;
		r->running = true;
		job->live++;
		uv_read_start((uv_stream_t *)&r->ctl, on_ctl_alloc, on_ctl_read);
		if (r->piped) {
			rl_output_stream_start(&r->out);
			rl_output_stream_start(&r->err);
		}
	}
out:
	rl_strv_release(&env);
	rl_strv_release(&args);
	return rc;
}

void rl_job_start(struct rl_job *job, int restart_count)
{
	job->state = JOB_RUNNING;
	job->restart_count = restart_count;
	job->live = 0;
	for (int i = 0; i < job->nranks; i++) {
		job->ranks[i].pid = 0; /* nothing of the last attempt is ever signalled */
		job->ranks[i].running = false;
	}
	job->have_root = false;
	job->stop_by_signal = false;
	job->system_error = false;
	job->nothers = 0;
	for (int i = 0; i < job->nranks; i++) {
		int rc = spawn_rank(job, &job->ranks[i]);
		if (rc < 0) {
			rl_log("cannot start local rank %d: %s", i, uv_strerror(rc));
			job->system_error = true;
			job->have_root = true; /* the attempt failed: no report from ranks needed */
			begin_stop(job, SIGTERM);
			return;
		}
	}
}

int rl_job_create(struct rl_job **out, uv_loop_t *loop, const struct rl_job_params *params,
		  const struct rl_job_events *events)
{
	struct rl_job *job = calloc(1, sizeof(*job));

	if (!job)
		return -ENOMEM;
	job->p = params;
	job->ev = *events;
	job->loop = loop;
	job->state = JOB_IDLE;
	job->nranks = params->plan->gpus_per_node;
	job->ranks = calloc((size_t)job->nranks, sizeof(*job->ranks));
	job->others = calloc((size_t)job->nranks, sizeof(*job->others));
	if (!job->ranks || !job->others) {
		rl_job_destroy(job);
		return -ENOMEM;
	}
	for (int i = 0; i < job->nranks; i++) {
		job->ranks[i].local = i;
		job->ranks[i].log_fd = -1;
	}
	if (rl_reaper_become_subreaper() < 0)
		rl_warn("cannot become a child subreaper: orphaned grandchildren may outlive the job");
	signal(SIGPIPE, SIG_IGN);

	for (size_t i = 0; i < NSIGNALS; i++) {
		uv_signal_init(loop, &job->signals[i]);
		job->signals[i].data = job;
		uv_signal_start(&job->signals[i], on_signal, forwarded_signals[i]);
	}
	uv_signal_init(loop, &job->sigchld);
	job->sigchld.data = job;
	uv_signal_start(&job->sigchld, on_sigchld, SIGCHLD);
	uv_timer_init(loop, &job->poll);
	job->poll.data = job;
	rl_console_on_relief(on_console_relief, job);
	*out = job;
	return 0;
}

void rl_job_close(struct rl_job *job)
{
	if (job->state == JOB_CLOSED)
		return;
	job->state = JOB_CLOSED;
	rl_console_on_relief(NULL, NULL);
	for (size_t i = 0; i < NSIGNALS; i++)
		uv_close((uv_handle_t *)&job->signals[i], NULL);
	uv_close((uv_handle_t *)&job->sigchld, NULL);
	uv_close((uv_handle_t *)&job->poll, NULL);
}

/* Only after rl_job_close and the loop has run the close callbacks. */
void rl_job_destroy(struct rl_job *job)
{
	if (!job)
		return;
	for (int i = 0; i < job->nranks; i++)
		rl_wire_reader_release(&job->ranks[i].ctl_reader);
	free(job->ranks);
	free(job->others);
	free(job);
}
