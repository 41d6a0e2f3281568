/* The closing report of a failed job, in the spirit of torchrun's "Root
 * Cause (first observed failure)" block: which rank failed first, where,
 * when and how, then any other rank that failed on its own.
 */
#ifndef RLAUNCH_SUMMARY_H
#define RLAUNCH_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct rl_failure {
	int rank;
	int local_rank;
	int node_rank;
	pid_t pid;
	int exit_code;      /* valid when signal == 0 */
	int signal;
	struct timespec when; /* CLOCK_REALTIME */
	const char *host;
	int exec_error;     /* errno when COMMAND could not be executed, else 0 */
};

/** The shell-style status: exit code, or 128 + signal. */
int rl_failure_status(const struct rl_failure *f);

/** "exit code 3" / "signal SIGKILL (9)" into buf. */
const char *rl_failure_describe(const struct rl_failure *f, char *buf, size_t len);

/** Print the report on stderr. */
void rl_summary_print(const struct rl_failure *root, const struct rl_failure *others,
		      size_t nothers, int restarts_done);

#endif
