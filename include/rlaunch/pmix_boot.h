/* The pmix rendezvous: node infos exchanged through the PMIx server that
 * srun --mpi=pmix or mpirun runs for the job, no port of our own needed.
 * libpmix.so.2 is dlopen'ed, so rlaunch still starts where PMIx is absent.
 *
 * Init; Put this node's info (and, from PMIx rank 0, a fresh job secret
 * when none was given); Commit; Fence with data collection; Get every
 * agent's info. The agents then sort the infos the same way (roster.h);
 * node rank 0 hosts the coordinator on the port it put in its info, which
 * every agent bound before the exchange (listen_fd) so no one can take it.
 */
#ifndef RLAUNCH_PMIX_BOOT_H
#define RLAUNCH_PMIX_BOOT_H

#include <stddef.h>

#include "rlaunch/auth.h"
#include "rlaunch/roster.h"

struct rl_pmix_result {
	struct rl_node_info *nodes; /* every agent's info in PMIx rank order; malloc'ed */
	size_t count;               /* the PMIx job size */
	int rank;                   /* this agent's PMIx rank */
};

/**
 * Exchange self (self->coord_port already set) with every agent of the
 * PMIx job. When secret->len is 0, PMIx rank 0's generated secret is used.
 * The exchange runs on a thread of its own and takes timeout_s at most:
 * any PMIx call blocks while the server waits on a peer that died, hangs or
 * lost its network. On a timeout the peers that never published their node
 * info are looked up (2 s more at most) and named in err, with their nodes.
 * Returns 0, or a negative errno with one line in err (library missing:
 * -ENOENT; a PMIx call failed: -EIO; timed out: -ETIMEDOUT).
 */
int rl_pmix_exchange(const struct rl_node_info *self, struct rl_secret *secret, double timeout_s,
		     struct rl_pmix_result *out, char *err, size_t errlen);

/** PMIx_Finalize, if rl_pmix_exchange got that far and was not abandoned
 * (finalizing would wait on it; exiting without is what PMIx servers expect
 * of a failed process). */
void rl_pmix_finalize(void);

#endif
