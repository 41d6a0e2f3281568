#include "rlaunch/roster.h"

#include <errno.h>
#include <stdlib.h>

#include "rlaunch/log.h"

static int by_addr(const void *a, const void *b)
{
	return rl_addr_compare(&((const struct rl_node_info *)a)->addr,
			       &((const struct rl_node_info *)b)->addr);
}

int rl_roster_build(struct rl_node_info *nodes, size_t count, size_t expected,
		    char *err, size_t errlen)
{
	char a[RL_ADDR_STRLEN];

	if (count != expected) {
		rl_errbuf(err, errlen, "%zu agents joined but --nodes is %zu", count, expected);
		return -EINVAL;
	}
	qsort(nodes, count, sizeof(*nodes), by_addr);
	for (size_t i = 0; i < count; i++) {
		const struct rl_node_info *n = &nodes[i];

		if (i > 0 && rl_addr_compare(&nodes[i - 1].addr, &n->addr) == 0) {
			rl_errbuf(err, errlen, "two agents on address %s (hosts '%s' and '%s'): run one "
				  "rlaunch per node (srun --ntasks-per-node=1), or give each its own "
				  "--node-addr", rl_addr_format(&n->addr, a, sizeof(a)),
				  nodes[i - 1].host, n->host);
			return -EINVAL;
		}
		if (n->gpus_per_node != nodes[0].gpus_per_node) {
			rl_errbuf(err, errlen, "nodes disagree on ranks per node: '%s' (%s) starts %u, "
				  "'%s' starts %u; pass the same --gpus-per-node everywhere", n->host,
				  rl_addr_format(&n->addr, a, sizeof(a)), n->gpus_per_node,
				  nodes[0].host, nodes[0].gpus_per_node);
			return -EINVAL;
		}
		if (n->gpus_available > 0 && n->gpus_available < n->gpus_per_node) {
			rl_errbuf(err, errlen, "node '%s' (%s) has %u GPUs but %u ranks per node were "
				  "asked for", n->host, rl_addr_format(&n->addr, a, sizeof(a)),
				  n->gpus_available, n->gpus_per_node);
			return -EINVAL;
		}
	}
	return 0;
}

int rl_roster_find(const struct rl_node_info *nodes, size_t count, const struct rl_addr *addr)
{
	for (size_t i = 0; i < count; i++)
		if (rl_addr_compare(&nodes[i].addr, addr) == 0)
			return (int)i;
	return -1;
}
