/* The worker stage: the first thing each rank runs. The agent starts the
 * rlaunch binary itself as
 *
 *     rlaunch __rlaunch_worker AGENT_PID GPU AFFINITY CHECK -- COMMAND [ARGS...]
 *
 * with the rank's environment already built and a control pipe on fd 3.
 * The worker stage, in a fresh process (never CUDA in the agent, so the
 * agent's fork stays safe):
 *   1. asks for SIGKILL when the agent dies, and exits at once if the agent
 *      is already gone (the race prctl leaves open);
 *   2. makes sure it leads its own process group (the agent signals groups);
 *   3. pins itself to the CPUs near its GPU when AFFINITY is 1 and the
 *      machine can tell (silently skipped otherwise);
 *   4. when CHECK is not "-", runs the health check in a child (check.h),
 *      then waits for the job-wide verdict on the control channel: NO-GO
 *      exits RL_EXIT_CHECK_FAILED; with --check-only, GO exits 0;
 *   5. execvp's COMMAND. The control channel is close-on-exec, so a
 *      successful exec shows up at the agent as EOF; a failed one as an
 *      RL_MSG_EXEC_FAILED frame, followed by exit 127 (not found) or 126.
 *
 * The control channel carries wire.h frames both ways.
 */
#ifndef RLAUNCH_WORKER_STAGE_H
#define RLAUNCH_WORKER_STAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "rlaunch/strv.h"

#define RL_WORKER_STAGE_ARG "__rlaunch_worker"
#define RL_WORKER_CONTROL_FD 3
#define RL_CHECK_ONLY_DONE (-1) /* internal: --check-only and GO */

/** argv for the worker stage of one rank (argv[0] is "rlaunch"); check is
 *  "" or the spec "ofi,PROVIDER,BIND_ADDR,BYTES,ITERS,TIMEOUT_S,ONLY". */
int rl_worker_stage_argv(struct rl_strv *out, pid_t agent, const char *gpu,
			 bool affinity, const char *check, char *const *command);

/** Entry point when argv[1] is RL_WORKER_STAGE_ARG. Returns only on failure (exit status). */
int rl_worker_stage_main(int argc, char **argv);

/** Exit status a shell would use for an exec failure with this errno. */
int rl_exec_failure_status(int error);

#endif
