/* From every rank's check result to the job's verdict, the table on the
 * coordinator's stderr and the JSON report. Pure except for the printing.
 *
 * NO-GO when any rank failed (could not start the backend, wrong data,
 * timeout, never reported), when a phase's bus bandwidth is under
 * --check-min-busbw, or when a node is an outlier: with three nodes or
 * more, a node whose intra-node bus bandwidth is under half the median of
 * the others.
 */
#ifndef RLAUNCH_CHECK_VERDICT_H
#define RLAUNCH_CHECK_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "rlaunch/roster.h"
#include "rlaunch/wire.h"

struct rl_check_setup {
	const char *backend;     /* "ofi" */
	const char *provider;
	long bytes;
	int iters;
	double min_busbw_gbps;   /* 0: none */
	bool timed_out;          /* decided by the timeout: silent ranks are to blame;
				    otherwise they were merely cut short by a failure */
};

struct rl_check_node_row {
	int node_rank;
	double node_gbps, all_gbps; /* the slowest rank of the node; 0: not measured */
	bool ok;
	char why[300];              /* when not ok */
};

/**
 * results: world entries indexed by rank (status RL_CHECK_NO_REPORT for
 * those that never reported). rows: one per node, filled. Returns whether
 * the job may go.
 */
bool rl_check_verdict(const struct rl_check_setup *s, const struct rl_node_info *nodes,
		      size_t nnodes, int gpus_per_node, const struct rl_check_result *results,
		      struct rl_check_node_row *rows);

void rl_check_print_table(const struct rl_check_setup *s, const struct rl_node_info *nodes,
			  size_t nnodes, int gpus_per_node, const struct rl_check_result *results,
			  const struct rl_check_node_row *rows, bool go);

/** The same as JSON into path. 0 or -errno. */
int rl_check_write_report(const char *path, const struct rl_check_setup *s,
			  const struct rl_node_info *nodes, size_t nnodes, int gpus_per_node,
			  const struct rl_check_result *results,
			  const struct rl_check_node_row *rows, bool go);

const char *rl_check_status_name(unsigned status);

#endif
