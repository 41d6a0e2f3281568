#include "rlaunch/summary.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "rlaunch/log.h"

int rl_failure_status(const struct rl_failure *f)
{
	return f->signal ? 128 + f->signal : f->exit_code;
}

const char *rl_failure_describe(const struct rl_failure *f, char *buf, size_t len)
{
	if (f->signal) {
		const char *abbrev = sigabbrev_np(f->signal);
		snprintf(buf, len, "signal SIG%s (%d)", abbrev ? abbrev : "?", f->signal);
	} else if (f->exec_error) {
		snprintf(buf, len, "exit code %d (cannot execute: %s)", f->exit_code,
			 strerror(f->exec_error));
	} else {
		snprintf(buf, len, "exit code %d", f->exit_code);
	}
	return buf;
}

void rl_summary_print(const struct rl_failure *root, const struct rl_failure *others,
		      size_t nothers, int restarts_done)
{
	char when[64], how[128];
	struct tm tm;

	gmtime_r(&root->when.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	rl_log("============================================================");
	rl_log("job failed%s", restarts_done ? " after restarts" : "");
	rl_log("Root Cause (first observed failure):");
	rl_log("  time      : %s.%03ld UTC", when, root->when.tv_nsec / 1000000);
	rl_log("  host      : %s", root->host);
	rl_log("  node rank : %d", root->node_rank);
	rl_log("  rank      : %d (local_rank: %d)", root->rank, root->local_rank);
	rl_log("  pid       : %ld", (long)root->pid);
	rl_log("  status    : %s", rl_failure_describe(root, how, sizeof(how)));
	if (restarts_done)
		rl_log("  restarts  : %d", restarts_done);
	for (size_t i = 0; i < nothers; i++)
		rl_log("Other failure: rank %d (local_rank %d, pid %ld): %s", others[i].rank,
		       others[i].local_rank, (long)others[i].pid,
		       rl_failure_describe(&others[i], how, sizeof(how)));
	rl_log("============================================================");
}
