/* The coordinator: a small TCP service inside one agent that runs the
 * rendezvous and decides for the whole job.
 *
 * Rendezvous: every connection must first prove it knows the job secret
 * (auth.h); then it sends its node info (JOIN). Strangers, garbage, frames
 * over 128 bytes before authentication, and connections that have not
 * authenticated within 10 s are dropped and logged (rate-limited); they
 * never stall or end the job. When every expected agent has joined, the
 * roster is checked and sent to all (ROSTER), and the local agent is told
 * too. If not all arrive within the rendezvous timeout, the agents that did
 * are told why and the job ends with RL_EXIT_RENDEZVOUS.
 *
 * Job: the first rank failure reported by any node becomes the culprit and
 * every node is told to stop (ABORT); a stop signal received by any agent
 * goes to all (SIGNAL); a node whose connection drops is a failure of its
 * own (RL_EXIT_LOST_CONTACT). When every node's attempt is over, the
 * coordinator restarts all of them (RESTART) or ends the job (FINAL) with
 * the culprit's status, and prints the report.
 *
 * With one node there is no listener: the same decisions, no network.
 */
#ifndef RLAUNCH_COORDINATOR_H
#define RLAUNCH_COORDINATOR_H

#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

#include "rlaunch/auth.h"
#include "rlaunch/check_verdict.h"
#include "rlaunch/controller.h"
#include "rlaunch/roster.h"
#include "rlaunch/supervise.h"

struct rl_coord_params {
	uv_loop_t *loop;
	const struct rl_secret *secret;
	size_t nodes;                  /* agents expected, this one included */
	double rdzv_timeout_s;
	int max_restarts;
	int master_port;               /* 0: the free port node 0 offered */
	const char *run_id;
	const struct sockaddr *listen_addr; /* NULL for a single node */
	int listen_fd;                 /* >= 0: an already bound socket to listen on */
	struct rl_node_info self;
	struct rl_agent_ops ops;
	/* the health check (check.enabled false: none) */
	struct {
		bool enabled;
		struct rl_check_setup setup;
		double timeout_s;          /* per phase */
		const char *report_file;
	} check;
};

struct rl_coord;

/**
 * Start listening (when listen_addr is set) and wait for the others. Returns
 * 0, or a negative libuv error from bind/listen (UV_EADDRINUSE: another
 * agent already serves this endpoint; UV_EADDRNOTAVAIL: not our address).
 */
int rl_coord_start(struct rl_coord **out, const struct rl_coord_params *params);
/** The local job's events go here. */
struct rl_job_events rl_coord_job_events(struct rl_coord *c);
/** Release after the loop has ended. */
void rl_coord_destroy(struct rl_coord *c);

#endif
