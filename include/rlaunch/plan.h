/* The placement: which ranks run on this node, on which GPU, and what they
 * are told about the job. A pure function of its inputs, so every agent that
 * is given the same inputs computes the same plan.
 *
 * RANK = node_rank * gpus_per_node + local_rank (STRICT_PACK: all of a
 * node's ranks on that node).
 */
#ifndef RLAUNCH_PLAN_H
#define RLAUNCH_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "rlaunch/cuda_devices.h"
#include "rlaunch/options.h"

struct rl_rank_slot {
	int rank;           /* global */
	int local_rank;     /* 0 .. gpus_per_node-1 */
	int env_local_rank; /* the LOCAL_RANK value the rank gets (policy dependent) */
	char gpu[128];      /* CUDA_VISIBLE_DEVICES entry of its GPU; "" for a CPU rank */
};

struct rl_plan {
	int nodes;
	int node_rank;
	int gpus_per_node;
	int world_size;
	bool cpu_only;         /* no GPU on this node: ranks are CPU processes */
	enum rl_cvd_policy cvd;
	char master_addr[256];
	int master_port;
	struct rl_rank_slot *slots; /* gpus_per_node entries */
};

/* Where this node sits in the job, as the rendezvous decided. */
struct rl_placement {
	int nodes;
	int node_rank;
	const char *master_addr;
	int master_port;
};

/**
 * Plan this node's ranks. machine_gpus is the number of GPUs the machine has
 * (0 when none were found); cvd the inherited CUDA_VISIBLE_DEVICES; where
 * NULL for a single node described by the options alone.
 * Returns 0, or -EINVAL with the reason in err.
 */
int rl_plan_build_local(struct rl_plan *p, const struct rl_options *o,
			const struct rl_cuda_devices *cvd, int machine_gpus,
			const struct rl_placement *where, char *err, size_t errlen);

/** GPUs this node can give: the CUDA_VISIBLE_DEVICES count, else the machine's. */
int rl_plan_gpus_available(const struct rl_cuda_devices *cvd, int machine_gpus);
void rl_plan_release(struct rl_plan *p);

#endif
