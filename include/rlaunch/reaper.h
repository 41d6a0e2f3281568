/* Nothing left behind. The agent is a child subreaper, so every process a
 * rank leaves orphaned (a daemonised helper, a grandchild whose parent died)
 * is re-parented to the agent instead of to init. rl_reaper_sweep finds
 * those adopted children, reaps the ones that have exited, and returns the
 * live ones so the agent can stop them with the ranks.
 *
 * Ranks themselves are libuv's children: pass their pids in `exclude` so
 * their exit status is never stolen from libuv's waitpid.
 */
#ifndef RLAUNCH_REAPER_H
#define RLAUNCH_REAPER_H

#include <stddef.h>
#include <sys/types.h>

/** prctl(PR_SET_CHILD_SUBREAPER). 0 or -errno. */
int rl_reaper_become_subreaper(void);

/**
 * Reap exited adopted children of `self` and store up to `max` live ones in
 * live. Returns the number of live adopted children found (may exceed max).
 */
size_t rl_reaper_sweep(pid_t self, const pid_t *exclude, size_t nexclude,
		       pid_t *live, size_t max);

/** kill(-pgid, sig). Returns 1 when the group still has members, else 0. */
int rl_signal_group(pid_t pgid, int sig);

#endif
