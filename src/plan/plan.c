#include "rlaunch/plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlaunch/log.h"

void rl_plan_release(struct rl_plan *p)
{
	free(p->slots);
	p->slots = NULL;
}

/* How many ranks, and whether they get GPUs at all. */
static int resolve_gpus_per_node(struct rl_plan *p, const struct rl_options *o,
				 const struct rl_cuda_devices *cvd, int machine_gpus,
				 char *err, size_t errlen)
{
	int available = rl_plan_gpus_available(cvd, machine_gpus);

	if (o->gpus_per_node < 0) {
		if (available <= 0) {
			rl_errbuf(err, errlen, "%s; pass --gpus-per-node N to say how many ranks to start",
				  cvd->set ? "CUDA_VISIBLE_DEVICES is empty"
					   : "no GPUs found on this node and CUDA_VISIBLE_DEVICES is unset");
			return -EINVAL;
		}
		p->gpus_per_node = available;
		return 0;
	}
	p->gpus_per_node = o->gpus_per_node;
	if (available <= 0) {
		p->cpu_only = true;
		return 0;
	}
	if (o->gpus_per_node > available) {
		if (cvd->set)
			rl_errbuf(err, errlen, "--gpus-per-node %d asks for more GPUs than the %d "
				  "listed in CUDA_VISIBLE_DEVICES", o->gpus_per_node, available);
		else
			rl_errbuf(err, errlen, "--gpus-per-node %d asks for more GPUs than the %d this "
				  "node has", o->gpus_per_node, available);
		return -EINVAL;
	}
	return 0;
}

int rl_plan_gpus_available(const struct rl_cuda_devices *cvd, int machine_gpus)
{
	return cvd->set ? rl_cuda_devices_count(cvd) : machine_gpus;
}

int rl_plan_build_local(struct rl_plan *p, const struct rl_options *o,
			const struct rl_cuda_devices *cvd, int machine_gpus,
			const struct rl_placement *where, char *err, size_t errlen)
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->cvd = o->cvd;
	if (where) {
		p->nodes = where->nodes;
		p->node_rank = where->node_rank;
		p->master_port = where->master_port;
		snprintf(p->master_addr, sizeof(p->master_addr), "%s", where->master_addr);
	} else {
		p->nodes = o->nodes;
		p->node_rank = o->node_rank < 0 ? 0 : o->node_rank;
		p->master_port = o->master_port;
		snprintf(p->master_addr, sizeof(p->master_addr), "%s",
			 o->master_addr ? o->master_addr : "127.0.0.1");
	}
	if (p->node_rank >= p->nodes) {
		rl_errbuf(err, errlen, "--node-rank %d is out of range for %d node%s",
			  p->node_rank, p->nodes, p->nodes == 1 ? "" : "s");
		return -EINVAL;
	}

	rc = resolve_gpus_per_node(p, o, cvd, machine_gpus, err, errlen);
	if (rc < 0)
		return rc;
	if (!p->cpu_only && o->cvd == RL_CVD_RESET && cvd->has_uuids) {
		rl_errbuf(err, errlen, "CUDA_VISIBLE_DEVICES lists GPU UUIDs, which "
			  "'--cuda-visible-devices reset' cannot turn into GPU ids: use "
			  "--cuda-visible-devices single or keep");
		return -EINVAL;
	}
	p->world_size = p->nodes * p->gpus_per_node;

	p->slots = calloc((size_t)p->gpus_per_node, sizeof(*p->slots));
	if (!p->slots)
		return -ENOMEM;
	for (int i = 0; i < p->gpus_per_node; i++) {
		struct rl_rank_slot *s = &p->slots[i];

		s->local_rank = i;
		s->rank = p->node_rank * p->gpus_per_node + i;
		s->env_local_rank = i;
		if (p->cpu_only)
			continue;
		if (cvd->set)
			snprintf(s->gpu, sizeof(s->gpu), "%s", cvd->entries.v[i]);
		else
			snprintf(s->gpu, sizeof(s->gpu), "%d", i);
		/* reset: the rank sees every GPU, so it must be told the physical id */
		if (o->cvd == RL_CVD_RESET)
			s->env_local_rank = atoi(s->gpu);
	}
	return 0;
}
