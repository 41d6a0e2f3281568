/* The ranks of this node: start every local rank through the worker stage,
 * pass their output on, stop them together. What the job as a whole does
 * about a failure (restart, end, tell other nodes) is its controller's
 * decision; this module reports events and obeys controls.
 *
 * State x event -> action (s6-supervise style):
 *
 *   RUNNING   rank fails           STOPPING with SIGTERM; event rank_failed
 *   RUNNING   last rank exits 0    STOPPING with SIGTERM (sweeps leftovers)
 *   RUNNING   TERM/INT/HUP/QUIT    forward it: STOPPING with that signal;
 *                                  event stop_signal
 *   STOPPING  TERM/INT/HUP/QUIT    SIGKILL everything now; event stop_signal
 *   any       USR1/USR2            forward to every rank; event user_signal
 *   STOPPING  poll (50 ms)         reap adopted orphans; after --grace send
 *                                  SIGKILL; when no process is left and the
 *                                  output is drained: CLOSING
 *   CLOSING   all handles closed   IDLE; event attempt_over
 *   IDLE      rl_job_start         RUNNING (a restart)
 *
 * Every rank leads its own process group; signals go to the group, so the
 * rank's own children get them too. Adopted orphans (the agent is a child
 * subreaper) are signalled with the ranks.
 */
#ifndef RLAUNCH_SUPERVISE_H
#define RLAUNCH_SUPERVISE_H

#include <stdbool.h>
#include <uv.h>

#include "rlaunch/options.h"
#include "rlaunch/plan.h"
#include "rlaunch/rank_env.h"
#include "rlaunch/summary.h"
#include "rlaunch/wire.h"

struct rl_job_params {
	const struct rl_options *opts;
	const struct rl_plan *plan;
	struct rl_rank_env_input env_in; /* restart_count is set per attempt */
	char *const *command;
	const char *host;
	const char *check_spec;          /* "" or the worker stage's check settings */
};

struct rl_attempt_report {
	bool system_error;               /* a rank could not be started at all */
	bool exec_failure;               /* a rank could not execute COMMAND */
	const struct rl_failure *others; /* ranks that failed on their own after the first */
	size_t nothers;
};

struct rl_job_events {
	void *ctx;
	/** The first rank of this node to fail in this attempt. */
	void (*rank_failed)(void *ctx, const struct rl_failure *f);
	/** rlaunch received TERM, INT, HUP or QUIT (already acted on locally). */
	void (*stop_signal)(void *ctx, int sig);
	/** rlaunch received USR1 or USR2 (already forwarded locally). */
	void (*user_signal)(void *ctx, int sig);
	/** Every process of the attempt is gone and its handles are closed. */
	void (*attempt_over)(void *ctx, const struct rl_attempt_report *report);
	/** Health check: a local rank's backend address, and its result. */
	void (*check_addrs)(void *ctx, const struct rl_check_addr *a, size_t n);
	void (*check_results)(void *ctx, const struct rl_check_result *r, size_t n);
};

struct rl_job;

/** Set up signal handling on loop. 0 or a negative errno. */
int rl_job_create(struct rl_job **job, uv_loop_t *loop, const struct rl_job_params *params,
		  const struct rl_job_events *events);
/** Start every local rank; restart_count goes into TORCHELASTIC_RESTART_COUNT. */
void rl_job_start(struct rl_job *job, int restart_count);
/** Stop the ranks with SIGTERM (the job failed elsewhere); no-op unless running. */
void rl_job_abort(struct rl_job *job);
/** Act on sig as if rlaunch had received it, without reporting it back. */
void rl_job_deliver_signal(struct rl_job *job, int sig);
/** Write one frame (wire.h) to every running rank's worker stage. */
void rl_job_send_to_ranks(struct rl_job *job, const uint8_t *frame, size_t len);
/** Close the job's own handles so the loop can end; the job must be idle. */
void rl_job_close(struct rl_job *job);
void rl_job_destroy(struct rl_job *job);

/** Is this one of the signals that stop the job (TERM, INT, HUP, QUIT)? */
bool rl_is_stop_signal(int sig);
/** One of the signals rlaunch passes to ranks (the above, USR1, USR2)? */
bool rl_is_forwarded_signal(int sig);

#endif
