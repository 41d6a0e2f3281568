#include "rlaunch/member.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlaunch/log.h"
#include "rlaunch/munge_auth.h"
#include "rlaunch/peer.h"
#include "rlaunch/summary.h"

#define RETRY_MIN_MS 50
#define RETRY_MAX_MS 1000
#define COORDINATOR_SLACK_MS 5000

enum member_phase {
	PH_CONNECTING, PH_HELLO, PH_AUTH, PH_JOINED, PH_JOB, PH_LOST, PH_FINAL,
};

struct rl_member {
	struct rl_member_params p;
	enum member_phase phase;
	struct rl_peer peer;
	bool peer_open;
	uv_connect_t connect;
	uv_timer_t timer;
	uint64_t started;
	unsigned retry_ms;
	uint8_t nonce[RL_NONCE_LEN];
	uint8_t server_nonce[RL_NONCE_LEN];
	int last_error;
	bool attempt_running;
};

static void try_connect(struct rl_member *m);

static void finish(struct rl_member *m, int status)
{
	if (m->phase == PH_FINAL)
		return;
	m->phase = PH_FINAL;
	uv_timer_stop(&m->timer);
	if (!uv_is_closing((uv_handle_t *)&m->timer))
		uv_close((uv_handle_t *)&m->timer, NULL);
	if (m->peer_open)
		rl_peer_finish(&m->peer);
	m->p.ops.final(m->p.ops.ctx, status);
}

static void send_msg(struct rl_member *m, struct rl_wbuf *w)
{
	if (m->peer_open && !m->peer.closing)
		rl_peer_send(&m->peer, w);
	else
		rl_wbuf_release(w);
}

/* ---- messages from the coordinator --------------------------------------------- */

static void on_end(struct rl_peer *p, int reason);

/* During the job: heartbeats out, and a coordinator that stays silent is lost. */
static void on_heartbeat(uv_timer_t *t)
{
	struct rl_member *m = t->data;

	if (m->phase != PH_JOB || !m->peer_open)
		return;
	if (rl_peer_keepalive(&m->peer, uv_now(m->p.loop)) < 0) {
		rl_log("the coordinator at %s has been silent for %d s", m->p.endpoint_name,
		       RL_SILENCE_LIMIT_MS / 1000);
		on_end(&m->peer, -ETIMEDOUT);
		rl_peer_close(&m->peer);
	}
}

static void on_frame(struct rl_peer *p, uint8_t type, const uint8_t *payload, size_t n)
{
	struct rl_member *m = p->data;
	struct rl_wbuf w;

	/* a refusal is taken only during the rendezvous; while the ranks run it
	 * is not a valid message (and must not end this agent under them) */
	if (type == RL_MSG_REJECT && m->phase < PH_JOB) {
		char reason[RL_REASON_MAX + 1] = "";
		int status = RL_EXIT_RENDEZVOUS;
		if (rl_wire_get_reject(payload, n, &status, reason, sizeof(reason)) < 0)
			status = RL_EXIT_RENDEZVOUS;
		rl_log("the coordinator at %s refused this agent: %s", m->p.endpoint_name, reason);
		finish(m, status);
		return;
	}
	switch (m->phase) {
	case PH_HELLO: {
		struct rl_msg_hello h;
		struct rl_msg_auth a = { RL_WIRE_VERSION, { 0 }, { 0 } };

		if (type != RL_MSG_HELLO || rl_wire_get_hello(payload, n, &h) < 0 ||
		    h.version != RL_WIRE_VERSION) {
			rl_log("'%s' is not an rlaunch coordinator of this version", m->p.endpoint_name);
			finish(m, RL_EXIT_RENDEZVOUS);
			return;
		}
		memcpy(m->server_nonce, h.nonce, RL_NONCE_LEN);
		rl_auth_nonce(m->nonce);
		if (m->p.secret->munge) {
			char *cred = NULL;
			if (rl_munge_encode("rlaunch-v1 client", m->server_nonce, m->nonce, &cred) < 0) {
				rl_log("cannot make a MUNGE credential: is munged running?");
				finish(m, RL_EXIT_AUTH);
				return;
			}
			rl_wbuf_init(&w);
			rl_wire_put_munge(&w, RL_MSG_AUTH_MUNGE, cred);
			free(cred);
			send_msg(m, &w);
			m->phase = PH_AUTH;
			return;
		}
		memcpy(a.nonce, m->nonce, RL_NONCE_LEN);
		rl_auth_client_mac(m->p.secret, m->server_nonce, m->nonce, a.mac);
		rl_wbuf_init(&w);
		rl_wire_put_auth(&w, &a);
		send_msg(m, &w);
		m->phase = PH_AUTH;
		return;
	}
	case PH_AUTH: {
		uint8_t got[RL_MAC_LEN], want[RL_MAC_LEN];

		if (m->p.secret->munge) {
			char cred[RL_WIRE_MUNGE_MAX + 1], why[200] = "it answered for another handshake";
			uint8_t echoed[RL_NONCE_LEN];

			if (type != RL_MSG_AUTH_MUNGE_OK || rl_wire_get_munge(payload, n, NULL, cred) < 0) {
				rl_log("protocol error from the coordinator at %s", m->p.endpoint_name);
				finish(m, RL_EXIT_RENDEZVOUS);
				return;
			}
			if (rl_munge_verify(cred, "rlaunch-v1 server", m->nonce, echoed, why,
					    sizeof(why)) < 0 ||
			    memcmp(echoed, m->server_nonce, RL_NONCE_LEN) != 0) {
				rl_log("the coordinator at %s failed MUNGE authentication: %s",
				       m->p.endpoint_name, why);
				finish(m, RL_EXIT_AUTH);
				return;
			}
			goto authenticated;
		}
		if (type != RL_MSG_AUTH_OK || rl_wire_get_auth_ok(payload, n, got) < 0) {
			rl_log("protocol error from the coordinator at %s", m->p.endpoint_name);
			finish(m, RL_EXIT_RENDEZVOUS);
			return;
		}
		rl_auth_server_mac(m->p.secret, m->server_nonce, m->nonce, want);
		if (!rl_auth_mac_equal(got, want)) {
			rl_log("the coordinator at %s does not know this job's token: refusing it",
			       m->p.endpoint_name);
			finish(m, RL_EXIT_AUTH);
			return;
		}
	authenticated:
		if (m->p.secret->munge)
			rl_auth_session_key(m->nonce, RL_NONCE_LEN, m->server_nonce, m->nonce, want);
		else
			rl_auth_session_key(m->p.secret->key, m->p.secret->len, m->server_nonce,
					    m->nonce, want);
		rl_peer_trust(&m->peer, want, false);
		rl_wbuf_init(&w);
		rl_wire_put_join(&w, &m->p.self);
		send_msg(m, &w);
		m->phase = PH_JOINED;
		return;
	}
	case PH_JOINED: {
		struct rl_msg_roster r;
		int rank;

		if (type != RL_MSG_ROSTER || rl_wire_get_roster(payload, n, &r) < 0) {
			rl_log("protocol error from the coordinator at %s", m->p.endpoint_name);
			finish(m, RL_EXIT_RENDEZVOUS);
			return;
		}
		rank = rl_roster_find(r.nodes, r.count, &m->p.self.addr);
		if (rank < 0) {
			rl_log("the roster from %s does not list this node", m->p.endpoint_name);
			free(r.nodes);
			finish(m, RL_EXIT_RENDEZVOUS);
			return;
		}
		m->phase = PH_JOB;
		uv_timer_stop(&m->timer);
		uv_timer_start(&m->timer, on_heartbeat, RL_HEARTBEAT_MS / 2, RL_HEARTBEAT_MS / 2);
		m->attempt_running = true;
		m->p.ops.roster(m->p.ops.ctx, &r, rank);
		free(r.nodes);
		return;
	}
	case PH_JOB:
		break;
	default:
		return;
	}

	switch (type) {
	case RL_MSG_ABORT:
		m->p.ops.abort(m->p.ops.ctx);
		break;
	case RL_MSG_CHECK_ADDRS:
	case RL_MSG_CHECK_VERDICT: {
		/* for the local ranks' worker stages, as the coordinator sent it */
		rl_wbuf_init(&w);
		rl_wire_put_raw(&w, (enum rl_msg_type)type, payload, n);
		if (!w.err)
			m->p.ops.to_ranks(m->p.ops.ctx, w.data, w.len);
		rl_wbuf_release(&w);
		break;
	}
	case RL_MSG_SIGNAL: {
		uint32_t sig;
		if (rl_wire_get_u32(payload, n, &sig) == 0 && sig < 65 && rl_is_forwarded_signal((int)sig))
			m->p.ops.deliver_signal(m->p.ops.ctx, (int)sig);
		break;
	}
	case RL_MSG_RESTART: {
		uint32_t count;
		if (rl_wire_get_u32(payload, n, &count) == 0) {
			m->attempt_running = true;
			m->p.ops.restart(m->p.ops.ctx, (int)count);
		}
		break;
	}
	case RL_MSG_FINAL: {
		struct rl_msg_final f;
		if (rl_wire_get_final(payload, n, &f) < 0)
			break;
		if (f.has_culprit) {
			if (f.culprit.reason[0]) {
				rl_log("job failed: %s", f.culprit.reason);
			} else {
				struct rl_failure lf = rl_failure_from_wire(&f.culprit);
				char how[160];
				rl_log("job failed: rank %d on %s (node %d): %s; the full report is on "
				       "the coordinator's node", f.culprit.rank, f.culprit.host,
				       f.culprit.node_rank, rl_failure_describe(&lf, how, sizeof(how)));
			}
		}
		finish(m, f.status);
		break;
	}
	default:
		break;
	}
}

static void on_end(struct rl_peer *p, int reason)
{
	struct rl_member *m = p->data;
	(void)reason;

	if (m->phase == PH_FINAL)
		return;
	if (m->phase == PH_JOB) {
		rl_log("lost contact with the coordinator at %s; stopping this node's ranks",
		       m->p.endpoint_name);
		m->phase = PH_LOST;
		if (m->attempt_running)
			m->p.ops.abort(m->p.ops.ctx);
		else
			finish(m, RL_EXIT_LOST_CONTACT);
		return;
	}
	if (m->phase == PH_JOINED || m->phase == PH_AUTH) {
		rl_log("the coordinator at %s closed the connection during the rendezvous",
		       m->p.endpoint_name);
		finish(m, RL_EXIT_RENDEZVOUS);
	}
	/* PH_HELLO: the connection dropped before a word: try again */
}

static void on_retry(uv_timer_t *t)
{
	struct rl_member *m = t->data;
	try_connect(m);
}

/* The rendezvous deadline also covers a coordinator that accepts but never answers. */
static void on_deadline(uv_timer_t *t)
{
	struct rl_member *m = t->data;

	if (m->phase == PH_CONNECTING)
		return try_connect(m);
	if (m->phase < PH_JOB) {
		rl_log("rendezvous timed out after %.0f s waiting for the coordinator at %s",
		       m->p.rdzv_timeout_s, m->p.endpoint_name);
		finish(m, RL_EXIT_RENDEZVOUS);
	}
}

static void on_closed(struct rl_peer *p)
{
	struct rl_member *m = p->data;

	m->peer_open = false;
	if (m->phase == PH_HELLO) {
		/* dropped before a word (a busy coordinator): try again, with backoff */
		m->phase = PH_CONNECTING;
		uv_timer_start(&m->timer, on_retry, m->retry_ms, 0);
		m->retry_ms = m->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : m->retry_ms * 2;
	}
}

static const struct rl_peer_ops peer_ops = {
	.on_frame = on_frame,
	.on_end = on_end,
	.on_closed = on_closed,
};

/* ---- connecting, with retries ---------------------------------------------------- */

static void on_connect(uv_connect_t *req, int status)
{
	struct rl_member *m = req->data;

	if (m->phase == PH_FINAL)
		return;
	if (status < 0) {
		m->last_error = status;
		rl_peer_close(&m->peer); /* on_closed: phase is CONNECTING, the timer retries */
		uint64_t waited = uv_now(m->p.loop) - m->started;
		if (waited >= (uint64_t)(m->p.rdzv_timeout_s * 1000)) {
			rl_log("cannot reach the coordinator at %s within %.0f s: %s%s", m->p.endpoint_name,
			       m->p.rdzv_timeout_s, uv_strerror(status),
			       m->p.endpoint_busy_here && status == UV_ECONNREFUSED
				       ? " (the port is taken on this host, yet nothing listens on it: "
					 "another program holds it; pick another port)" : "");
			finish(m, RL_EXIT_RENDEZVOUS);
			return;
		}
		uv_timer_start(&m->timer, on_retry, m->retry_ms, 0);
		m->retry_ms = m->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : m->retry_ms * 2;
		return;
	}
	m->phase = PH_HELLO;
	rl_peer_start(&m->peer);
	{
		/* connected: the coordinator's own timeout ends the rendezvous and it
		 * says why; ours is only a backstop for a coordinator that hangs */
		uint64_t waited = uv_now(m->p.loop) - m->started;
		uint64_t limit = (uint64_t)(m->p.rdzv_timeout_s * 1000) + COORDINATOR_SLACK_MS;
		uv_timer_start(&m->timer, on_deadline, waited < limit ? limit - waited : 0, 0);
	}
}

static void try_connect(struct rl_member *m)
{
	int rc;

	if (m->phase != PH_CONNECTING || m->peer_open)
		return;
	if (rl_peer_init(m->p.loop, &m->peer, &peer_ops, m) < 0) {
		finish(m, 71);
		return;
	}
	m->peer_open = true;
	m->connect.data = m;
	rc = uv_tcp_connect(&m->connect, &m->peer.tcp, (const struct sockaddr *)&m->p.endpoint,
			    on_connect);
	if (rc < 0) {
		rl_log("cannot connect to '%s': %s", m->p.endpoint_name, uv_strerror(rc));
		rl_peer_close(&m->peer);
		finish(m, RL_EXIT_RENDEZVOUS);
	}
}

/* ---- job events -------------------------------------------------------------------- */

static void ev_rank_failed(void *ctx, const struct rl_failure *f)
{
	struct rl_wire_failure wf;
	struct rl_wbuf w;

	rl_failure_to_wire(f, &wf);
	rl_wbuf_init(&w);
	rl_wire_put_failure(&w, RL_MSG_RANK_FAILED, &wf);
	send_msg(ctx, &w);
}

static void ev_signal(void *ctx, int sig)
{
	struct rl_member *m = ctx;
	struct rl_wbuf w;

	rl_wbuf_init(&w);
	rl_wire_put_u32(&w, RL_MSG_SIGNAL, (uint32_t)sig);
	send_msg(m, &w);
}

static void ev_attempt_over(void *ctx, const struct rl_attempt_report *r)
{
	struct rl_member *m = ctx;
	struct rl_wbuf w;

	m->attempt_running = false;
	if (m->phase == PH_LOST) {
		finish(m, RL_EXIT_LOST_CONTACT);
		return;
	}
	rl_wbuf_init(&w);
	rl_wire_put_u32(&w, RL_MSG_ATTEMPT_DONE,
			(r->exec_failure ? RL_ATTEMPT_EXEC_FAILURE : 0u) |
			(r->system_error ? RL_ATTEMPT_SYSTEM_ERROR : 0u));
	send_msg(m, &w);
}

static void ev_check_addrs(void *ctx, const struct rl_check_addr *a, size_t n)
{
	struct rl_wbuf w;
	rl_wbuf_init(&w);
	rl_wire_put_check_addrs(&w, a, n);
	send_msg(ctx, &w);
}

static void ev_check_results(void *ctx, const struct rl_check_result *r, size_t n)
{
	struct rl_wbuf w;
	rl_wbuf_init(&w);
	rl_wire_put_check_results(&w, r, n);
	send_msg(ctx, &w);
}

struct rl_job_events rl_member_job_events(struct rl_member *m)
{
	struct rl_job_events ev = {
		.ctx = m,
		.rank_failed = ev_rank_failed,
		.stop_signal = ev_signal,
		.user_signal = ev_signal,
		.attempt_over = ev_attempt_over,
		.check_addrs = ev_check_addrs,
		.check_results = ev_check_results,
	};
	return ev;
}

int rl_member_start(struct rl_member **out, const struct rl_member_params *params)
{
	struct rl_member *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->p = *params;
	m->phase = PH_CONNECTING;
	m->started = uv_now(m->p.loop);
	m->retry_ms = RETRY_MIN_MS;
	uv_timer_init(m->p.loop, &m->timer);
	m->timer.data = m;
	*out = m;
	try_connect(m);
	return 0;
}

void rl_member_destroy(struct rl_member *m)
{
	free(m);
}
