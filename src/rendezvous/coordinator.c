#include "rlaunch/coordinator.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rlaunch/exit_codes.h"
#include "rlaunch/log.h"
#include "rlaunch/munge_auth.h"
#include "rlaunch/peer.h"
#include "rlaunch/summary.h"

#define HANDSHAKE_TIMEOUT_MS 3000
#define HOUSEKEEPING_MS 500
#define MAX_PENDING 256        /* connections not yet authenticated */
/* once half of those slots are taken, one address may hold this many: a
 * single host flooding the port cannot keep the other nodes out */
#define MAX_PENDING_PER_SOURCE 64
#define LOG_WINDOW_MS 10000    /* rejected peers: at most LOG_BURST lines per window */
#define LOG_BURST 5

enum phase { PHASE_RENDEZVOUS, PHASE_JOB, PHASE_FINAL };
enum member_state { M_HANDSHAKE, M_AUTHENTICATED, M_JOINED, M_GONE };

struct member {
	struct rl_coord *c;
	struct rl_peer peer;
	bool local;             /* this agent: no connection */
	enum member_state state;
	uint8_t nonce[RL_NONCE_LEN];
	uint64_t accepted_at;
	struct rl_node_info info;
	int node_rank;
	bool attempt_done;
};

struct rl_coord {
	struct rl_coord_params p;
	enum phase phase;
	uv_tcp_t listener;
	bool listening;
	uv_timer_t timer;
	uv_timer_t kick;        /* runs the local join from the loop, not from start */
	uint64_t started;
	struct member **m;      /* every connection and the local member */
	size_t nm, capm;
	size_t joined;
	size_t pending;         /* unauthenticated connections */
	struct member **by_rank; /* node rank -> member, after the roster */
	struct rl_msg_roster roster;
	/* the current attempt */
	int restart_count;
	bool have_culprit;
	struct rl_wire_failure culprit;
	int culprit_status;
	bool retryable;
	int stop_signal;
	size_t done;
	struct rl_failure local_others[64];
	size_t nlocal_others;
	/* the health check of the current attempt */
	struct rl_check_addr *check_addrs;    /* by rank */
	struct rl_check_result *check_results; /* by rank */
	size_t check_naddrs, check_nresults, world;
	bool check_decided, check_failed;
	uv_timer_t check_timer;
	/* rate-limited log of rejected peers */
	uint64_t log_window;
	unsigned logged, suppressed;
};

/* ---- logging strangers, rate-limited ---------------------------------------- */

/* Say how many were not shown, when a window ends (or the job does). */
static void reject_log_flush(struct rl_coord *c, uint64_t now, bool force)
{
	if (!force && now - c->log_window < LOG_WINDOW_MS)
		return;
	if (c->suppressed)
		rl_log("coordinator: %u more rejected connections not shown", c->suppressed);
	c->log_window = now;
	c->logged = c->suppressed = 0;
}

static void reject_log(struct rl_coord *c, const char *who, const char *why)
{
	uint64_t now = uv_now(c->p.loop);

	reject_log_flush(c, now, false);
	if (c->logged++ < LOG_BURST)
		rl_log("coordinator: dropped connection from %s: %s", who, why);
	else
		c->suppressed++;
}

/* ---- members ------------------------------------------------------------- */

static void send_to(struct member *m, struct rl_wbuf *w)
{
	if (m->local || m->state == M_GONE)
		rl_wbuf_release(w);
	else
		rl_peer_send(&m->peer, w);
}

static void on_peer_closed(struct rl_peer *p)
{
	struct member *m = p->data;
	struct rl_coord *c = m->c;

	/* the slot stays in c->m (node ranks point at it); only handshakes are freed */
	if (m->node_rank < 0) {
		for (size_t i = 0; i < c->nm; i++)
			if (c->m[i] == m) {
				c->m[i] = c->m[--c->nm];
				break;
			}
		free(m);
	}
}

static void drop(struct member *m, const char *why)
{
	struct rl_coord *c = m->c;

	if (m->state == M_HANDSHAKE)
		c->pending--;
	if (why)
		reject_log(c, m->peer.name, why);
	m->state = M_GONE;
	rl_peer_close(&m->peer);
}

static void reject(struct member *m, int status, const char *reason)
{
	struct rl_wbuf w;

	rl_wbuf_init(&w);
	rl_wire_put_reject(&w, status, reason);
	rl_peer_send(&m->peer, &w);
	if (m->state == M_HANDSHAKE)
		m->c->pending--;
	m->state = M_GONE;
	rl_peer_finish(&m->peer);
}

static void broadcast(struct rl_coord *c, const struct rl_wbuf *msg, const struct member *except)
{
	for (size_t i = 0; i < c->nm; i++) {
		struct member *m = c->m[i];
		struct rl_wbuf w;

		if (m == except || m->local || m->state != M_JOINED)
			continue;
		rl_wbuf_init(&w);
		if (msg->len) {
			w.data = malloc(msg->len);
			if (!w.data)
				continue;
			memcpy(w.data, msg->data, msg->len);
			w.len = w.cap = msg->len;
		}
		send_to(m, &w);
	}
}

/* ---- the end ----------------------------------------------------------------- */

static void close_everything(struct rl_coord *c)
{
	reject_log_flush(c, uv_now(c->p.loop), true);
	uv_timer_stop(&c->timer);
	if (!uv_is_closing((uv_handle_t *)&c->timer)) {
		uv_close((uv_handle_t *)&c->timer, NULL);
		uv_close((uv_handle_t *)&c->kick, NULL);
		uv_close((uv_handle_t *)&c->check_timer, NULL);
	}
	if (c->listening) {
		c->listening = false;
		uv_close((uv_handle_t *)&c->listener, NULL);
	}
	for (size_t i = 0; i < c->nm; i++) {
		struct member *m = c->m[i];
		if (m->local || m->peer.closing)
			continue;
		m->state = M_GONE;
		rl_peer_finish(&m->peer);
	}
}

/* Rendezvous failed: tell those who came, end with status. */
static void fail_rendezvous(struct rl_coord *c, int status, const char *reason)
{
	struct rl_wbuf w;

	rl_log("%s", reason);
	rl_wbuf_init(&w);
	rl_wire_put_reject(&w, status, reason);
	broadcast(c, &w, NULL);
	rl_wbuf_release(&w);
	c->phase = PHASE_FINAL;
	close_everything(c);
	c->p.ops.final(c->p.ops.ctx, status);
}

static void check_begin(struct rl_coord *c);
static void on_check_timeout(uv_timer_t *t);

static void attempt_finished(struct rl_coord *c)
{
	struct rl_attempt_outcome o = {
		.failed = c->have_culprit,
		.retryable = c->retryable,
		.stop_signal = c->stop_signal,
	};
	struct rl_wbuf w;
	struct rl_msg_final fin;

	if (c->check_failed) {
		/* the table said why; a rank's exit with the NO-GO code is no culprit */
		o.failed = true;
		o.retryable = false;
		c->have_culprit = false;
	}
	o.status = c->check_failed ? RL_EXIT_CHECK_STATUS
		 : c->have_culprit ? c->culprit_status
		 : c->stop_signal ? 128 + c->stop_signal : 0;
	if (rl_should_restart(&o, c->restart_count, c->p.max_restarts)) {
		char how[160];
		struct rl_failure f = rl_failure_from_wire(&c->culprit);

		c->restart_count++;
		rl_log("rank %d on %s failed (%s); restarting all ranks (restart %d of %d)",
		       c->culprit.rank, c->culprit.host, rl_failure_describe(&f, how, sizeof(how)),
		       c->restart_count, c->p.max_restarts);
		c->have_culprit = false;
		c->done = 0;
		c->nlocal_others = 0;
		for (size_t i = 0; i < c->nm; i++)
			c->m[i]->attempt_done = false;
		rl_wbuf_init(&w);
		rl_wire_put_u32(&w, RL_MSG_RESTART, (uint32_t)c->restart_count);
		broadcast(c, &w, NULL);
		rl_wbuf_release(&w);
		if (c->p.check.enabled) {
			check_begin(c);
			uv_timer_start(&c->check_timer, on_check_timeout,
				       (uint64_t)((2 * c->p.check.timeout_s + 20) * 1000), 0);
		}
		c->p.ops.restart(c->p.ops.ctx, c->restart_count);
		return;
	}

	/* a stop signal wins over a failure only when it came first */
	memset(&fin, 0, sizeof(fin));
	fin.status = o.status;
	fin.has_culprit = c->have_culprit;
	fin.culprit = c->culprit;
	if (c->have_culprit) {
		struct rl_failure root = rl_failure_from_wire(&c->culprit);
		if (c->culprit.reason[0])
			rl_log("job failed: %s", c->culprit.reason);
		else
			rl_summary_print(&root, c->local_others, c->nlocal_others, c->restart_count);
	}
	rl_wbuf_init(&w);
	rl_wire_put_final(&w, &fin);
	broadcast(c, &w, NULL);
	rl_wbuf_release(&w);
	c->phase = PHASE_FINAL;
	close_everything(c);
	c->p.ops.final(c->p.ops.ctx, o.status);
}

static void member_done(struct rl_coord *c, struct member *m)
{
	if (m->attempt_done)
		return;
	m->attempt_done = true;
	if (++c->done == c->p.nodes && c->phase == PHASE_JOB)
		attempt_finished(c);
}

/* ---- job events, from any node ------------------------------------------------ */

static void culprit_found(struct rl_coord *c, const struct rl_wire_failure *f, int status,
			  bool retryable)
{
	struct rl_wbuf w;

	if (!retryable)
		c->retryable = false;
	if (c->have_culprit || c->phase != PHASE_JOB)
		return;
	c->have_culprit = true;
	c->culprit = *f;
	c->culprit_status = status;
	rl_wbuf_init(&w);
	rl_wire_put_failure(&w, RL_MSG_ABORT, f);
	broadcast(c, &w, NULL);
	rl_wbuf_release(&w);
	c->p.ops.abort(c->p.ops.ctx);
}

static void rank_failed(struct rl_coord *c, const struct rl_wire_failure *f)
{
	struct rl_failure lf = rl_failure_from_wire(f);
	culprit_found(c, f, rl_failure_status(&lf), true);
}

static void signal_from(struct rl_coord *c, struct member *from, int sig)
{
	struct rl_wbuf w;

	if (c->phase != PHASE_JOB)
		return;
	/* a stop signal ends the job (no restart); the status stays the
	 * culprit's when a rank had already failed */
	if (rl_is_stop_signal(sig) && !c->stop_signal)
		c->stop_signal = sig;
	rl_wbuf_init(&w);
	rl_wire_put_u32(&w, RL_MSG_SIGNAL, (uint32_t)sig);
	broadcast(c, &w, from);
	rl_wbuf_release(&w);
	if (!from->local)
		c->p.ops.deliver_signal(c->p.ops.ctx, sig);
}

static struct member *local_member(struct rl_coord *c)
{
	for (size_t i = 0; i < c->nm; i++)
		if (c->m[i]->local)
			return c->m[i];
	return NULL;
}

static void ev_rank_failed(void *ctx, const struct rl_failure *f)
{
	struct rl_wire_failure wf;

	rl_failure_to_wire(f, &wf);
	rank_failed(ctx, &wf);
}

static void ev_stop_signal(void *ctx, int sig)
{
	struct rl_coord *c = ctx;
	signal_from(c, local_member(c), sig);
}

static void ev_attempt_over(void *ctx, const struct rl_attempt_report *r)
{
	struct rl_coord *c = ctx;

	if (r->exec_failure || r->system_error)
		c->retryable = false;
	if (r->system_error && !c->have_culprit) {
		struct rl_wire_failure f;
		memset(&f, 0, sizeof(f));
		f.rank = -1;
		snprintf(f.reason, sizeof(f.reason), "node %s could not start its ranks", c->p.self.host);
		culprit_found(c, &f, RL_EXIT_SYSTEM_STATUS, false);
	}
	c->nlocal_others = r->nothers < 64 ? r->nothers : 64;
	memcpy(c->local_others, r->others, c->nlocal_others * sizeof(*r->others));
	member_done(c, local_member(c));
}

static void ev_check_addrs(void *ctx, const struct rl_check_addr *a, size_t n);
static void ev_check_results(void *ctx, const struct rl_check_result *r, size_t n);

struct rl_job_events rl_coord_job_events(struct rl_coord *c)
{
	struct rl_job_events ev = {
		.ctx = c,
		.rank_failed = ev_rank_failed,
		.stop_signal = ev_stop_signal,
		.user_signal = ev_stop_signal, /* both: pass it to every node */
		.attempt_over = ev_attempt_over,
		.check_addrs = ev_check_addrs,
		.check_results = ev_check_results,
	};
	return ev;
}

/* ---- health check ------------------------------------------------------------ */

static void to_everyone(struct rl_coord *c, struct rl_wbuf *w)
{
	broadcast(c, w, NULL);
	c->p.ops.to_ranks(c->p.ops.ctx, w->data, w->len);
	rl_wbuf_release(w);
}

static void check_decide(struct rl_coord *c)
{
	int g = (int)c->roster.nodes[0].gpus_per_node;
	struct rl_check_node_row *rows;
	struct rl_wbuf w;
	bool go;

	if (c->check_decided)
		return;
	c->check_decided = true;
	uv_timer_stop(&c->check_timer);
	rows = calloc(c->roster.count, sizeof(*rows));
	if (!rows)
		go = false;
	else {
		go = rl_check_verdict(&c->p.check.setup, c->roster.nodes, c->roster.count, g,
				      c->check_results, rows);
		rl_check_print_table(&c->p.check.setup, c->roster.nodes, c->roster.count, g,
				     c->check_results, rows, go);
		if (c->p.check.report_file) {
			int rc = rl_check_write_report(c->p.check.report_file, &c->p.check.setup,
						       c->roster.nodes, c->roster.count, g,
						       c->check_results, rows, go);
			if (rc < 0)
				rl_warn("cannot write the report '%s': %s", c->p.check.report_file,
					strerror(-rc));
		}
	}
	free(rows);
	c->check_failed = !go;
	if (!go)
		c->retryable = false;
	rl_wbuf_init(&w);
	rl_wire_put_u32(&w, RL_MSG_CHECK_VERDICT, go ? 1u : 0u);
	to_everyone(c, &w);
}

static void check_begin(struct rl_coord *c)
{
	c->world = (size_t)c->roster.count * c->roster.nodes[0].gpus_per_node;
	free(c->check_addrs);
	free(c->check_results);
	c->check_addrs = calloc(c->world, sizeof(*c->check_addrs));
	c->check_results = calloc(c->world, sizeof(*c->check_results));
	c->check_naddrs = c->check_nresults = 0;
	c->check_decided = c->check_failed = false;
	c->p.check.setup.timed_out = false;
	for (size_t r = 0; c->check_results && r < c->world; r++) {
		c->check_results[r].rank = (int32_t)r;
		c->check_results[r].status = RL_CHECK_NO_REPORT;
		c->check_results[r].bad_index = -1;
	}
}

/* Addresses from the ranks of node (-1: trusted local). */
static void check_addrs_in(struct rl_coord *c, int node, const struct rl_check_addr *a, size_t n)
{
	size_t g = c->roster.nodes[0].gpus_per_node;
	struct rl_wbuf w;

	if (!c->p.check.enabled || c->check_decided || !c->check_addrs)
		return;
	for (size_t i = 0; i < n; i++) {
		size_t r = (size_t)a[i].rank;
		if (r >= c->world || (node >= 0 && r / g != (size_t)node) || c->check_addrs[r].len)
			continue; /* out of range, another node's rank, or a repeat */
		c->check_addrs[r] = a[i];
		c->check_naddrs++;
	}
	if (c->check_naddrs < c->world)
		return;
	rl_log("health check: %s backend up on all %zu ranks; running the node and all-ranks phases",
	       c->p.check.setup.backend, c->world);
	rl_wbuf_init(&w);
	rl_wire_put_check_addrs(&w, c->check_addrs, c->world);
	to_everyone(c, &w);
}

static void check_results_in(struct rl_coord *c, int node, const struct rl_check_result *res,
			     size_t n)
{
	size_t g = c->roster.nodes[0].gpus_per_node;
	bool failed = false, stalled = false;

	if (!c->p.check.enabled || c->check_decided || !c->check_results)
		return;
	for (size_t i = 0; i < n; i++) {
		size_t r = (size_t)res[i].rank;
		if (r >= c->world || (node >= 0 && r / g != (size_t)node) ||
		    c->check_results[r].status != RL_CHECK_NO_REPORT)
			continue;
		c->check_results[r] = res[i];
		c->check_nresults++;
		failed |= res[i].status == RL_CHECK_INIT_FAILED || res[i].status == RL_CHECK_WRONG_DATA;
		stalled |= res[i].status == RL_CHECK_TIMEOUT || res[i].status == RL_CHECK_COMM_FAILED;
	}
	/* a backend that cannot start, or wrong data: the verdict is clear now */
	if (c->check_nresults == c->world || failed) {
		check_decide(c);
		return;
	}
	/* a rank timed out: the others will within one more phase; then whoever
	 * is silent is named */
	if (stalled && uv_timer_get_due_in(&c->check_timer) > (uint64_t)((c->p.check.timeout_s + 2) * 1000))
		uv_timer_start(&c->check_timer, on_check_timeout,
			       (uint64_t)((c->p.check.timeout_s + 2) * 1000), 0);
}

static void on_check_timeout(uv_timer_t *t)
{
	struct rl_coord *c = t->data;
	rl_log("health check: not every rank reported within the timeout");
	c->p.check.setup.timed_out = true;
	check_decide(c);
}

static void ev_check_addrs(void *ctx, const struct rl_check_addr *a, size_t n)
{
	check_addrs_in(ctx, -1, a, n);
}

static void ev_check_results(void *ctx, const struct rl_check_result *r, size_t n)
{
	check_results_in(ctx, -1, r, n);
}

/* ---- rendezvous ----------------------------------------------------------------- */

static void roster_ready(struct rl_coord *c)
{
	char err[512];
	struct rl_node_info *nodes = calloc(c->joined, sizeof(*nodes));
	size_t n = 0;
	struct rl_wbuf w;
	int self_rank = -1;

	if (!nodes) {
		fail_rendezvous(c, 71, "out of memory");
		return;
	}
	for (size_t i = 0; i < c->nm; i++)
		if (c->m[i]->state == M_JOINED)
			nodes[n++] = c->m[i]->info;
	if (rl_roster_build(nodes, n, c->p.nodes, err, sizeof(err)) < 0) {
		free(nodes);
		fail_rendezvous(c, 2, err);
		return;
	}
	c->by_rank = calloc(n, sizeof(*c->by_rank));
	if (!c->by_rank) {
		free(nodes);
		fail_rendezvous(c, 71, "out of memory");
		return;
	}
	for (size_t i = 0; i < c->nm; i++) {
		struct member *m = c->m[i];
		if (m->state != M_JOINED)
			continue;
		m->node_rank = rl_roster_find(nodes, n, &m->info.addr);
		c->by_rank[m->node_rank] = m;
		if (m->local)
			self_rank = m->node_rank;
	}
	c->roster.nodes = nodes;
	c->roster.count = (uint32_t)n;
	c->roster.master_port = (uint16_t)(c->p.master_port ? c->p.master_port : nodes[0].port);
	snprintf(c->roster.run_id, sizeof(c->roster.run_id), "%s", c->p.run_id);
	c->phase = PHASE_JOB;
	if (c->p.check.enabled) {
		check_begin(c);
		uv_timer_start(&c->check_timer, on_check_timeout,
			       (uint64_t)((2 * c->p.check.timeout_s + 20) * 1000), 0);
	}
	rl_wbuf_init(&w);
	rl_wire_put_roster(&w, &c->roster);
	broadcast(c, &w, NULL);
	rl_wbuf_release(&w);
	c->p.ops.roster(c->p.ops.ctx, &c->roster, self_rank);
}

static void add_joined(struct rl_coord *c, struct member *m, const struct rl_node_info *info)
{
	char a[RL_ADDR_STRLEN], reason[RL_REASON_MAX + 1];

	/* a newcomer that cannot be part of this job is refused on its own; the
	 * agents already here keep waiting for the right one */
	if (!m->local) {
		if (info->nodes != c->p.nodes) {
			snprintf(reason, sizeof(reason), "this agent was told the job has %u nodes, the "
				 "coordinator %zu: pass the same --nodes everywhere", info->nodes,
				 c->p.nodes);
			rl_log("coordinator: refused %s (%s): %s", info->host, m->peer.name, reason);
			reject(m, RL_EXIT_USAGE, reason);
			return;
		}
		for (size_t i = 0; i < c->nm; i++) {
			const struct member *o = c->m[i];
			if (o != m && o->state == M_JOINED && rl_addr_compare(&o->info.addr, &info->addr) == 0) {
				snprintf(reason, sizeof(reason), "another agent (host '%s') already joined with "
					 "address %s: run one rlaunch per node (srun --ntasks-per-node=1), or "
					 "give each its own --node-addr", o->info.host,
					 rl_addr_format(&info->addr, a, sizeof(a)));
				rl_log("coordinator: refused %s: %s", info->host, reason);
				reject(m, RL_EXIT_USAGE, reason);
				return;
			}
		}
	}
	m->info = *info;
	m->state = M_JOINED;
	c->joined++;
	if (c->joined == c->p.nodes)
		roster_ready(c);
}

/* The MUNGE variant of the handshake (munge_auth.h). */
static void handshake_munge(struct member *m, const uint8_t *payload, size_t n)
{
	struct rl_coord *c = m->c;
	char cred[RL_WIRE_MUNGE_MAX + 1], why[200], reason[300];
	uint8_t client_nonce[RL_NONCE_LEN];
	uint16_t version;
	char *proof = NULL;
	struct rl_wbuf w;

	if (rl_wire_get_munge(payload, n, &version, cred) < 0 || version != RL_WIRE_VERSION) {
		drop(m, "bad MUNGE handshake");
		return;
	}
	if (!c->p.secret->munge) {
		reject(m, RL_EXIT_AUTH, "authentication failed: this job uses a job token, that agent MUNGE "
			  "(RLAUNCH_TOKEN / --token-file must be set on every node or on none)");
		reject_log(c, m->peer.name, "MUNGE where a job token was expected");
		return;
	}
	if (rl_munge_verify(cred, "rlaunch-v1 client", m->nonce, client_nonce, why, sizeof(why)) < 0) {
		/* the details (uids) stay in our log, not in a stranger's hands */
		snprintf(reason, sizeof(reason), "authentication failed: the MUNGE credential was "
			 "refused (same user and the same MUNGE key on every node are required)");
		reject(m, RL_EXIT_AUTH, reason);
		reject_log(c, m->peer.name, why);
		return;
	}
	if (rl_munge_encode("rlaunch-v1 server", client_nonce, m->nonce, &proof) < 0) {
		drop(m, "cannot make a MUNGE credential (is munged running?)");
		return;
	}
	rl_wbuf_init(&w);
	rl_wire_put_munge(&w, RL_MSG_AUTH_MUNGE_OK, proof);
	free(proof);
	rl_peer_send(&m->peer, &w);
	{
		uint8_t session[RL_MAC_LEN];
		rl_auth_session_key(client_nonce, RL_NONCE_LEN, m->nonce, client_nonce, session);
		rl_peer_trust(&m->peer, session, true);
	}
	m->state = M_AUTHENTICATED;
	c->pending--;
}

static void on_member_frame(struct rl_peer *p, uint8_t type, const uint8_t *payload, size_t n)
{
	struct member *m = p->data;
	struct rl_coord *c = m->c;

	if (m->state == M_HANDSHAKE && type == RL_MSG_AUTH_MUNGE) {
		handshake_munge(m, payload, n);
		return;
	}
	if (m->state == M_HANDSHAKE) {
		struct rl_msg_auth a;
		uint8_t mac[RL_MAC_LEN];
		struct rl_wbuf w;

		if (type == RL_MSG_AUTH && c->p.secret->munge) {
			reject(m, RL_EXIT_AUTH, "authentication failed: this job authenticates through MUNGE, "
				  "that agent with a job token (RLAUNCH_TOKEN / --token-file must be set on "
				  "every node or on none)");
			reject_log(c, m->peer.name, "job token where MUNGE was expected");
			return;
		}
		if (type != RL_MSG_AUTH || rl_wire_get_auth(payload, n, &a) < 0) {
			drop(m, "not an rlaunch agent (bad handshake)");
			return;
		}
		if (a.version != RL_WIRE_VERSION) {
			drop(m, "protocol version mismatch (different rlaunch versions?)");
			return;
		}
		rl_auth_client_mac(c->p.secret, m->nonce, a.nonce, mac);
		if (!rl_auth_mac_equal(mac, a.mac)) {
			/* say so, so a misconfigured agent can tell its user */
			reject(m, RL_EXIT_AUTH, "authentication failed: the job token differs (RLAUNCH_TOKEN, "
				  "--token-file or --insecure must match on every node)");
			reject_log(c, m->peer.name, "wrong job token");
			return;
		}
		rl_auth_server_mac(c->p.secret, m->nonce, a.nonce, mac);
		rl_wbuf_init(&w);
		rl_wire_put_auth_ok(&w, mac);
		rl_peer_send(&m->peer, &w);
		rl_auth_session_key(c->p.secret->key, c->p.secret->len, m->nonce, a.nonce, mac);
		rl_peer_trust(&m->peer, mac, true);
		m->state = M_AUTHENTICATED;
		c->pending--;
		return;
	}
	if (m->state == M_AUTHENTICATED) {
		struct rl_node_info info;

		if (type != RL_MSG_JOIN || rl_wire_get_join(payload, n, &info) < 0) {
			drop(m, "protocol error before joining");
			return;
		}
		if (c->phase != PHASE_RENDEZVOUS) {
			reject(m, RL_EXIT_RENDEZVOUS, "the rendezvous is over: every expected agent has already joined");
			return;
		}
		add_joined(c, m, &info);
		return;
	}
	/* job messages only from a node of the roster, while the job runs */
	if (m->state != M_JOINED || c->phase != PHASE_JOB || m->node_rank < 0)
		return;
	switch (type) {
	case RL_MSG_RANK_FAILED: {
		struct rl_wire_failure f;
		if (rl_wire_get_failure(payload, n, &f) == 0) {
			f.node_rank = m->node_rank; /* what we know beats what it says */
			snprintf(f.host, sizeof(f.host), "%s", m->info.host);
			f.reason[0] = '\0';
			rank_failed(c, &f);
		}
		break;
	}
	case RL_MSG_SIGNAL: {
		uint32_t sig;
		if (rl_wire_get_u32(payload, n, &sig) == 0 && sig < 65 && rl_is_forwarded_signal((int)sig))
			signal_from(c, m, (int)sig);
		break;
	}
	case RL_MSG_CHECK_ADDRS: {
		struct rl_check_addr *a;
		size_t count;
		if (rl_wire_get_check_addrs(payload, n, c->world ? c->world : 1, &a, &count) == 0) {
			check_addrs_in(c, m->node_rank, a, count);
			free(a);
		}
		break;
	}
	case RL_MSG_CHECK_RESULTS: {
		struct rl_check_result *res;
		size_t count;
		if (rl_wire_get_check_results(payload, n, c->world ? c->world : 1, &res, &count) == 0) {
			check_results_in(c, m->node_rank, res, count);
			free(res);
		}
		break;
	}
	case RL_MSG_ATTEMPT_DONE: {
		uint32_t flags;
		if (rl_wire_get_u32(payload, n, &flags) == 0) {
			if (flags)
				c->retryable = false;
			if ((flags & RL_ATTEMPT_SYSTEM_ERROR) && !c->have_culprit) {
				struct rl_wire_failure f;
				memset(&f, 0, sizeof(f));
				f.rank = -1;
				f.node_rank = m->node_rank;
				snprintf(f.host, sizeof(f.host), "%s", m->info.host);
				snprintf(f.reason, sizeof(f.reason), "node %d (%s) could not start its ranks",
					 m->node_rank, m->info.host);
				culprit_found(c, &f, RL_EXIT_SYSTEM_STATUS, false);
			}
			member_done(c, m);
		}
		break;
	}
	default:
		rl_log("coordinator: unexpected message %u from node %d (%s); ignored", type,
		       m->node_rank, m->info.host);
	}
}

static void on_member_end(struct rl_peer *p, int reason);

/* Every joined node is heard from during the job, or lost. */
static void keep_members_alive(struct rl_coord *c, uint64_t now)
{
	for (size_t i = 0; i < c->nm; i++) {
		struct member *m = c->m[i];
		if (m->local || m->state != M_JOINED || m->peer.closing)
			continue;
		if (rl_peer_keepalive(&m->peer, now) < 0) {
			rl_log("coordinator: node %d (%s) has been silent for %d s",
			       m->node_rank, m->info.host, RL_SILENCE_LIMIT_MS / 1000);
			on_member_end(&m->peer, -ETIMEDOUT);
			rl_peer_close(&m->peer);
		}
	}
}

static void on_member_end(struct rl_peer *p, int reason)
{
	struct member *m = p->data;
	struct rl_coord *c = m->c;
	enum member_state was = m->state;
	char a[RL_ADDR_STRLEN];

	if (was == M_HANDSHAKE) {
		c->pending--;
		m->state = M_GONE;
		reject_log(c, p->name, reason == -EMSGSIZE ? "oversized message before authentication"
				       : reason == -EBADMSG ? "garbage" : "closed during the handshake");
		return;
	}
	m->state = M_GONE;
	if (was != M_JOINED || c->phase == PHASE_FINAL)
		return;
	if (c->phase == PHASE_RENDEZVOUS) {
		c->joined--;
		rl_log("coordinator: agent on %s (%s) left before the rendezvous completed",
		       m->info.host, rl_addr_format(&m->info.addr, a, sizeof(a)));
		m->state = M_GONE;
		return;
	}
	/* lost mid-job, even after it said its attempt was over: the job cannot
	 * go on (or restart) without it */
	c->retryable = false;
	{
		struct rl_wire_failure f;

		memset(&f, 0, sizeof(f));
		f.node_rank = m->node_rank;
		f.rank = -1;
		snprintf(f.host, sizeof(f.host), "%s", m->info.host);
		snprintf(f.reason, sizeof(f.reason), "lost contact with node %d (%s, %s): its agent "
			 "exited or the network failed", m->node_rank, m->info.host,
			 rl_addr_format(&m->info.addr, a, sizeof(a)));
		rl_log("%s", f.reason);
		culprit_found(c, &f, RL_EXIT_LOST_CONTACT, false);
		if (!m->attempt_done)
			member_done(c, m);
	}
}

static const struct rl_peer_ops member_ops = {
	.on_frame = on_member_frame,
	.on_end = on_member_end,
	.on_closed = on_peer_closed,
};

static int add_member(struct rl_coord *c, struct member *m)
{
	if (c->nm == c->capm) {
		size_t cap = c->capm ? c->capm * 2 : 16;
		struct member **v = realloc(c->m, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->m = v;
		c->capm = cap;
	}
	c->m[c->nm++] = m;
	return 0;
}

/* Connections from addr that have not authenticated yet. */
static size_t pending_from(const struct rl_coord *c, const char *addr)
{
	size_t n = 0;
	for (size_t i = 0; i < c->nm; i++) {
		const struct member *m = c->m[i];
		if (!m->local && m->state == M_HANDSHAKE && strcmp(m->peer.addr, addr) == 0)
			n++;
	}
	return n;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct rl_coord *c = server->data;
	struct member *m;
	struct rl_msg_hello hello = { RL_WIRE_VERSION, { 0 } };
	struct rl_wbuf w;

	if (status < 0)
		return;
	m = calloc(1, sizeof(*m));
	if (!m || rl_peer_init(c->p.loop, &m->peer, &member_ops, m) < 0) {
		free(m);
		return;
	}
	m->c = c;
	m->node_rank = -1;
	m->state = M_HANDSHAKE;
	m->accepted_at = uv_now(c->p.loop);
	if (add_member(c, m) < 0 || uv_accept(server, (uv_stream_t *)&m->peer.tcp) < 0 ||
	    rl_peer_start(&m->peer) < 0) {
		m->state = M_GONE;
		rl_peer_close(&m->peer);
		return;
	}
	c->pending++;
	if (c->pending > MAX_PENDING || c->phase == PHASE_FINAL) {
		drop(m, "too many connections waiting to authenticate");
		return;
	}
	if (c->pending > MAX_PENDING / 2 && pending_from(c, m->peer.addr) > MAX_PENDING_PER_SOURCE) {
		drop(m, "too many connections from this address waiting to authenticate");
		return;
	}
	rl_auth_nonce(m->nonce);
	memcpy(hello.nonce, m->nonce, RL_NONCE_LEN);
	rl_wbuf_init(&w);
	rl_wire_put_hello(&w, &hello);
	rl_peer_send(&m->peer, &w);
}

static void on_timer(uv_timer_t *t)
{
	struct rl_coord *c = t->data;
	uint64_t now = uv_now(c->p.loop);

	/* at scale the phases take a while: say how far they got, every 10 s */
	if (c->p.check.enabled && c->phase == PHASE_JOB && !c->check_decided && c->check_results &&
	    (now - c->started) % 10000 < HOUSEKEEPING_MS && now - c->started >= 10000)
		rl_log("health check: %zu of %zu ranks connected, %zu reported", c->check_naddrs,
		       c->world, c->check_nresults);

	for (size_t i = 0; i < c->nm; i++) {
		struct member *m = c->m[i];
		if (m->state == M_HANDSHAKE && now - m->accepted_at >= HANDSHAKE_TIMEOUT_MS)
			drop(m, "no authentication within 3 s");
	}
	if (c->phase == PHASE_JOB)
		keep_members_alive(c, now);
	if (c->suppressed)
		reject_log_flush(c, now, false);
	if (c->phase == PHASE_RENDEZVOUS &&
	    now - c->started >= (uint64_t)(c->p.rdzv_timeout_s * 1000)) {
		char msg[1024];
		size_t off;
		char a[RL_ADDR_STRLEN];

		off = (size_t)snprintf(msg, sizeof(msg), "rendezvous timed out after %.0f s: %zu of %zu "
				       "agents joined, %zu missing; joined:", c->p.rdzv_timeout_s,
				       c->joined, c->p.nodes, c->p.nodes - c->joined);
		for (size_t i = 0; i < c->nm && off < sizeof(msg) - 64; i++)
			if (c->m[i]->state == M_JOINED)
				off += (size_t)snprintf(msg + off, sizeof(msg) - off, " %s (%s)",
							c->m[i]->info.host,
							rl_addr_format(&c->m[i]->info.addr, a, sizeof(a)));
		fail_rendezvous(c, RL_EXIT_RENDEZVOUS, msg);
	}
}

static void on_kick(uv_timer_t *t)
{
	struct rl_coord *c = t->data;
	struct member *self = NULL;

	for (size_t i = 0; i < c->nm && !self; i++)
		if (c->m[i]->local)
			self = c->m[i];
	if (c->phase == PHASE_RENDEZVOUS && self)
		add_joined(c, self, &c->p.self);
}

int rl_coord_start(struct rl_coord **out, const struct rl_coord_params *params)
{
	struct rl_coord *c = calloc(1, sizeof(*c));
	struct member *self;
	int rc;

	if (!c)
		return UV_ENOMEM;
	c->p = *params;
	c->phase = PHASE_RENDEZVOUS;
	c->retryable = true;
	c->started = uv_now(c->p.loop);
	c->log_window = c->started;
	if (params->listen_addr || params->listen_fd >= 0) {
		uv_tcp_init(c->p.loop, &c->listener);
		c->listener.data = c;
		if (params->listen_fd >= 0)
			rc = uv_tcp_open(&c->listener, params->listen_fd);
		else
			rc = uv_tcp_bind(&c->listener, params->listen_addr, 0);
		if (rc == 0)
			rc = uv_listen((uv_stream_t *)&c->listener, 1024, on_connection);
		if (rc < 0) {
			uv_close((uv_handle_t *)&c->listener, NULL);
			uv_run(c->p.loop, UV_RUN_NOWAIT); /* let the close finish before freeing */
			free(c);
			return rc;
		}
		c->listening = true;
	}
	uv_timer_init(c->p.loop, &c->timer);
	c->timer.data = c;
	uv_timer_start(&c->timer, on_timer, HOUSEKEEPING_MS, HOUSEKEEPING_MS);

	self = calloc(1, sizeof(*self));
	if (!self || add_member(c, self) < 0) {
		free(self);
		return UV_ENOMEM;
	}
	self->c = c;
	self->local = true;
	self->node_rank = -1;
	self->state = M_AUTHENTICATED; /* never subject to the handshake timeout */
	uv_timer_init(c->p.loop, &c->kick);
	c->kick.data = c;
	uv_timer_init(c->p.loop, &c->check_timer);
	c->check_timer.data = c;
	uv_timer_start(&c->kick, on_kick, 0, 0);
	*out = c;
	return 0;
}

void rl_coord_destroy(struct rl_coord *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nm; i++)
		free(c->m[i]);
	free(c->m);
	free(c->by_rank);
	free(c->roster.nodes);
	free(c->check_addrs);
	free(c->check_results);
	free(c);
}
