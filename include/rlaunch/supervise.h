/* The agent's event loop: start every local rank through the worker stage,
 * pass their output on, and bring the job down as one.
 *
 * State x event -> action (s6-supervise style):
 *
 *   RUNNING   rank fails           record root cause; STOPPING with SIGTERM
 *   RUNNING   last rank exits 0    STOPPING with SIGTERM (sweeps leftovers)
 *   RUNNING   TERM/INT/HUP/QUIT    forward it; STOPPING with that signal
 *   any       USR1/USR2            forward to every rank's process group
 *   STOPPING  TERM/INT/HUP/QUIT    SIGKILL everything now, no restart
 *   STOPPING  poll (50 ms)         reap adopted orphans; after --grace send
 *                                  SIGKILL; when no process is left and the
 *                                  output is drained: CLOSING
 *   CLOSING   all handles closed   restart (failure, restarts left, not an
 *                                  exec failure, not a signal) or DONE
 *
 * Every rank leads its own process group; signals go to the group, so the
 * rank's own children get them too. Adopted orphans (the agent is a child
 * subreaper) are signalled with the ranks.
 */
#ifndef RLAUNCH_SUPERVISE_H
#define RLAUNCH_SUPERVISE_H

#include "rlaunch/options.h"
#include "rlaunch/plan.h"
#include "rlaunch/rank_env.h"

struct rl_job_params {
	const struct rl_options *opts;
	const struct rl_plan *plan;
	struct rl_rank_env_input env_in; /* restart_count is set per attempt */
	char *const *command;
	const char *host;
};

/** Run the job to the end. Returns rlaunch's exit status. */
int rl_job_run(const struct rl_job_params *params);

#endif
