/* The roster: every agent's node info, checked and put in placement order.
 * A pure function, so the coordinator computes it once and every agent can
 * check what it receives. STRICT_PACK: one group of ranks per node; groups
 * are ordered by node address, numerically; the lowest address is node rank
 * 0 and MASTER_ADDR.
 */
#ifndef RLAUNCH_ROSTER_H
#define RLAUNCH_ROSTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rlaunch/node_addr.h"

#define RL_HOSTNAME_MAX 255

/* What one agent brings to the rendezvous. */
struct rl_node_info {
	struct rl_addr addr;
	char host[RL_HOSTNAME_MAX + 1];
	uint32_t gpus_per_node;  /* ranks it will start */
	uint32_t gpus_available; /* GPUs it has (0: CPU ranks) */
	uint32_t pid;
	uint16_t port;           /* a port free on it: MASTER_PORT if it is node 0 and
				    --master-port is 0 */
	uint16_t coord_port;     /* pmix: where it would serve the coordinator */
	uint32_t nodes;          /* the job size this agent was told (--nodes, Slurm, PMIx) */
};

/**
 * Sort nodes (count entries, arrival order) by address and check them:
 * count must equal expected, no two agents on one address, the same
 * gpus_per_node everywhere, and enough GPUs on each GPU node.
 * Returns 0 or -EINVAL with one line naming the node(s) in err.
 */
int rl_roster_build(struct rl_node_info *nodes, size_t count, size_t expected,
		    char *err, size_t errlen);

/** Index of the node with this address, or -1. */
int rl_roster_find(const struct rl_node_info *nodes, size_t count, const struct rl_addr *addr);

#endif
