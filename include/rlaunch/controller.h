/* Between an agent and whoever decides for the whole job.
 *
 * The controller is the coordinator (in one agent, also for a single node,
 * where it has no network side) or a member's link to it. It receives the
 * local job's events (struct rl_job_events, with ctx = the controller) and
 * tells the agent what to do through struct rl_agent_ops.
 */
#ifndef RLAUNCH_CONTROLLER_H
#define RLAUNCH_CONTROLLER_H

#include <stdbool.h>

#include <stdio.h>
#include <string.h>

#include "rlaunch/summary.h"
#include "rlaunch/wire.h"

/* Exit statuses of rlaunch's own that concern the job as a whole. */
#define RL_EXIT_LOST_CONTACT 74  /* a node, or the coordinator, went away mid-job */
#define RL_EXIT_RENDEZVOUS 75    /* not every agent arrived, or the coordinator refused us */
#define RL_EXIT_AUTH 77          /* the job secret did not match */
#define RL_EXIT_SYSTEM_STATUS 71 /* = RL_EXIT_SYSTEM: a node could not start its ranks */
#define RL_EXIT_CHECK_STATUS 78  /* = RL_EXIT_CHECK_FAILED: the health check said NO-GO */

/* ATTEMPT_DONE flags */
#define RL_ATTEMPT_EXEC_FAILURE 1u
#define RL_ATTEMPT_SYSTEM_ERROR 2u

struct rl_agent_ops {
	void *ctx;
	/** The placement is known: plan and start the ranks (attempt 0). */
	void (*roster)(void *ctx, const struct rl_msg_roster *roster, int node_rank);
	/** The job failed elsewhere: stop the local ranks. */
	void (*abort)(void *ctx);
	/** A signal from another agent: act on it as if received here. */
	void (*deliver_signal)(void *ctx, int sig);
	/** Start the ranks again. */
	void (*restart)(void *ctx, int restart_count);
	/** The job is over: exit with status. */
	void (*final)(void *ctx, int status);
	/** Health check: a frame (CHECK_ADDRS, CHECK_VERDICT) for every local rank. */
	void (*to_ranks)(void *ctx, const uint8_t *frame, size_t len);
};

/* Job-wide decision after every node's attempt is over. */
struct rl_attempt_outcome {
	bool failed;          /* a rank failed, a node was lost, or a rank could not start */
	bool retryable;       /* not an exec failure, system error or lost node */
	int stop_signal;      /* a stop signal ended the attempt (0: none) */
	int status;           /* the status if the job ends now */
};

/** Restart when a rank failed in a retryable way, no signal stopped the job
 *  and restarts are left. Pure. */
static inline bool rl_should_restart(const struct rl_attempt_outcome *o, int restarts_done,
				     int max_restarts)
{
	return o->failed && o->retryable && !o->stop_signal && restarts_done < max_restarts;
}

/* A rank failure on the wire and back. */
static inline void rl_failure_to_wire(const struct rl_failure *f, struct rl_wire_failure *out)
{
	memset(out, 0, sizeof(*out));
	out->rank = f->rank;
	out->local_rank = f->local_rank;
	out->node_rank = f->node_rank;
	out->pid = (uint32_t)f->pid;
	out->exit_code = f->exit_code;
	out->signal = f->signal;
	out->exec_error = f->exec_error;
	out->sec = f->when.tv_sec;
	out->nsec = (int32_t)f->when.tv_nsec;
	snprintf(out->host, sizeof(out->host), "%s", f->host ? f->host : "");
}

/** The result points into f (host). */
static inline struct rl_failure rl_failure_from_wire(const struct rl_wire_failure *f)
{
	struct rl_failure out = {
		.rank = f->rank, .local_rank = f->local_rank, .node_rank = f->node_rank,
		.pid = (pid_t)f->pid, .exit_code = f->exit_code, .signal = f->signal,
		.when = { .tv_sec = (time_t)f->sec, .tv_nsec = f->nsec }, .host = f->host,
		.exec_error = f->exec_error,
	};
	return out;
}

#endif
