/* Slurm hostlists as Slurm writes them in SLURM_JOB_NODELIST and friends:
 * "gpu[001-004,007],login1", "rack[1-2]-n[01-02]".
 *
 * Items are separated by commas outside brackets. A bracket group holds
 * comma-separated numbers or lo-hi ranges; each range keeps the zero padding
 * of its lower bound as written ("[001-010]" -> 001..010, "[8-10]" ->
 * 8,9,10). Several groups in one item expand as a cartesian product with the
 * leftmost group varying slowest, as Slurm does. Duplicates are kept.
 *
 * Unlike Slurm, which also splits on whitespace, a space or control
 * character anywhere is an error: a real nodelist never has one, and a
 * guessed split would hide a quoting bug in the caller.
 */
#ifndef RLAUNCH_HOSTLIST_H
#define RLAUNCH_HOSTLIST_H

#include <stddef.h>

#include "rlaunch/strv.h"

/* Longest host name an expansion may produce (bytes, without the NUL). */
#define RL_HOSTLIST_NAME_MAX 255
/* Most digits a number inside brackets may have. */
#define RL_HOSTLIST_DIGITS_MAX 10

/**
 * Expand a Slurm hostlist into host names in Slurm's order.
 *
 * The whole list is checked, and its size counted, before anything is
 * expanded: a bad item or an oversized list costs no allocation.
 *
 * out is initialised by this call; release it with rl_strv_release()
 * whatever the return value (on failure it is already empty).
 *
 * Returns 0; -EINVAL for a malformed list (NULL or empty, empty item,
 * unbalanced or nested brackets, empty bracket or range, non-digits, a
 * number of more than RL_HOSTLIST_DIGITS_MAX digits, lo > hi, a name longer
 * than RL_HOSTLIST_NAME_MAX); -E2BIG when it expands to more than max_hosts
 * names; -ENOMEM. On -EINVAL and -E2BIG the reason, naming the bad part,
 * is in err.
 */
int rl_hostlist_expand(const char *list, size_t max_hosts, struct rl_strv *out,
		       char *err, size_t errlen);

#endif
