/* The worker stage: the first thing each rank runs. The agent starts the
 * rlaunch binary itself as
 *
 *     rlaunch __rlaunch_worker AGENT_PID GPU AFFINITY -- COMMAND [ARGS...]
 *
 * with the rank's environment already built and a control pipe on fd 3.
 * The worker stage, in a fresh process (never CUDA in the agent, so the
 * agent's fork stays safe):
 *   1. asks for SIGKILL when the agent dies, and exits at once if the agent
 *      is already gone (the race prctl leaves open);
 *   2. makes sure it leads its own process group (the agent signals groups);
 *   3. pins itself to the CPUs near its GPU when AFFINITY is 1 and the
 *      machine can tell (silently skipped otherwise);
 *   4. execvp's COMMAND. The control pipe is close-on-exec, so a successful
 *      exec shows up at the agent as EOF; a failed one as one
 *      struct rl_exec_failure, followed by exit 127 (not found) or 126.
 */
#ifndef RLAUNCH_WORKER_STAGE_H
#define RLAUNCH_WORKER_STAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "rlaunch/strv.h"

#define RL_WORKER_STAGE_ARG "__rlaunch_worker"
#define RL_WORKER_CONTROL_FD 3
#define RL_EXEC_FAILURE_MAGIC 0x726c6578 /* "rlex" */

struct rl_exec_failure {
	uint32_t magic;
	int32_t error;  /* errno of execvp */
};

/** argv for the worker stage of one rank (argv[0] is "rlaunch"). */
int rl_worker_stage_argv(struct rl_strv *out, pid_t agent, const char *gpu,
			 bool affinity, char *const *command);

/** Entry point when argv[1] is RL_WORKER_STAGE_ARG. Returns only on failure (exit status). */
int rl_worker_stage_main(int argc, char **argv);

/** Exit status a shell would use for an exec failure with this errno. */
int rl_exec_failure_status(int error);

#endif
