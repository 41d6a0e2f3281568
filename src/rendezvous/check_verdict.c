#include "rlaunch/check_verdict.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlaunch/log.h"

const char *rl_check_status_name(unsigned status)
{
	static const char *const names[] = {
		[RL_CHECK_OK] = "ok", [RL_CHECK_INIT_FAILED] = "backend could not start",
		[RL_CHECK_WRONG_DATA] = "wrong data", [RL_CHECK_TIMEOUT] = "timed out",
		[RL_CHECK_COMM_FAILED] = "communication failed",
		[RL_CHECK_NO_REPORT] = "never reported",
	};
	return status <= RL_CHECK_STATUS_MAX ? names[status] : "?";
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

bool rl_check_verdict(const struct rl_check_setup *s, const struct rl_node_info *nodes,
		      size_t nnodes, int gpus_per_node, const struct rl_check_result *results,
		      struct rl_check_node_row *rows)
{
	bool go = true;
	double *intra = calloc(nnodes ? nnodes : 1, sizeof(double));

	for (size_t n = 0; n < nnodes; n++) {
		struct rl_check_node_row *row = &rows[n];

		memset(row, 0, sizeof(*row));
		row->node_rank = (int)n;
		row->ok = true;
		/* the reason names a rank that failed; one that never reported only
		 * when no rank of the node failed on its own */
		for (int pass = 0; pass < 2 && row->ok; pass++) {
			for (int l = 0; l < gpus_per_node && row->ok; l++) {
				const struct rl_check_result *r = &results[n * (size_t)gpus_per_node + (size_t)l];
				if (r->status == RL_CHECK_OK || (pass == 0 && r->status == RL_CHECK_NO_REPORT))
					continue;
				row->ok = false;
				if (r->status == RL_CHECK_NO_REPORT && !s->timed_out)
					snprintf(row->why, sizeof(row->why), "not finished: stopped when "
						 "another rank failed");
				else if (r->bad_index >= 0)
					snprintf(row->why, sizeof(row->why), "rank %d: %s at index %lld (%s)",
						 r->rank, rl_check_status_name(r->status),
						 (long long)r->bad_index, r->message);
				else
					snprintf(row->why, sizeof(row->why), "rank %d: %s%s%.200s", r->rank,
						 rl_check_status_name(r->status), r->message[0] ? ": " : "",
						 r->message);
			}
		}
		for (int l = 0; l < gpus_per_node; l++) {
			const struct rl_check_result *r = &results[n * (size_t)gpus_per_node + (size_t)l];
			double nb = (double)r->node_busbw_kbps / 1e6, ab = (double)r->all_busbw_kbps / 1e6;

			if (l == 0 || nb < row->node_gbps)
				row->node_gbps = nb;
			if (l == 0 || ab < row->all_gbps)
				row->all_gbps = ab;
		}
		intra[n] = row->node_gbps;
		if (row->ok && s->min_busbw_gbps > 0) {
			if (gpus_per_node > 1 && row->node_gbps < s->min_busbw_gbps) {
				row->ok = false;
				snprintf(row->why, sizeof(row->why), "intra-node busbw %.3f GB/s is under "
					 "--check-min-busbw %.3f", row->node_gbps, s->min_busbw_gbps);
			} else if (nnodes * (size_t)gpus_per_node > 1 && row->all_gbps < s->min_busbw_gbps) {
				row->ok = false;
				snprintf(row->why, sizeof(row->why), "all-ranks busbw %.3f GB/s is under "
					 "--check-min-busbw %.3f", row->all_gbps, s->min_busbw_gbps);
			}
		}
		go &= row->ok;
	}
	/* a node far slower than the others, though fast enough on its own */
	if (nnodes >= 3 && gpus_per_node > 1) {
		for (size_t n = 0; n < nnodes; n++) {
			double *others = calloc(nnodes, sizeof(double)), median;
			size_t k = 0;
			if (!others)
				break;
			for (size_t m = 0; m < nnodes; m++)
				if (m != n)
					others[k++] = intra[m];
			qsort(others, k, sizeof(double), cmp_double);
			median = k % 2 ? others[k / 2] : (others[k / 2 - 1] + others[k / 2]) / 2;
			free(others);
			if (rows[n].ok && median > 0 && intra[n] < 0.5 * median) {
				rows[n].ok = false;
				snprintf(rows[n].why, sizeof(rows[n].why), "outlier: intra-node busbw %.3f "
					 "GB/s is under half the median of the other nodes (%.3f)", intra[n],
					 median);
				go = false;
			}
		}
	}
	free(intra);
	return go;
}

static void fmt_bw(char *buf, size_t len, double gbps)
{
	if (gbps <= 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.3f GB/s", gbps);
}

void rl_check_print_table(const struct rl_check_setup *s, const struct rl_node_info *nodes,
			  size_t nnodes, int gpus_per_node, const struct rl_check_result *results,
			  const struct rl_check_node_row *rows, bool go)
{
	size_t failed = 0, silent = 0;
	char list[512] = "";

	rl_log("health check: %s (%s), %ld bytes per all-reduce, %d timed iterations", s->backend,
	       s->provider, s->bytes, s->iters);
	rl_log("%-4s  %-20s  %-16s  %-9s  %-13s  %-13s  %s", "node", "host", "address", "ranks",
	       "node busbw", "all busbw", "verdict");
	for (size_t n = 0; n < nnodes; n++) {
		char a[RL_ADDR_STRLEN], ranks[32], nb[32], ab[32];

		snprintf(ranks, sizeof(ranks), "%zu-%zu", n * (size_t)gpus_per_node,
			 (n + 1) * (size_t)gpus_per_node - 1);
		fmt_bw(nb, sizeof(nb), rows[n].node_gbps);
		fmt_bw(ab, sizeof(ab), rows[n].all_gbps);
		rl_log("%4zu  %-20.20s  %-16s  %-9s  %-13s  %-13s  %s", n, nodes[n].host,
		       rl_addr_format(&nodes[n].addr, a, sizeof(a)), ranks, nb, ab,
		       rows[n].ok ? "ok" : rows[n].why);
		failed += !rows[n].ok;
	}
	for (size_t r = 0; r < nnodes * (size_t)gpus_per_node; r++) {
		if (results[r].status != RL_CHECK_NO_REPORT)
			continue;
		if (silent++ < 32) {
			size_t off = strlen(list);
			snprintf(list + off, sizeof(list) - off, "%s%d (%s)", off ? ", " : "", results[r].rank,
				 nodes[r / (size_t)gpus_per_node].host);
		}
	}
	if (silent && s->timed_out)
		rl_log("health check: %zu rank%s never reported: %s%s", silent, silent == 1 ? "" : "s",
		       list, silent > 32 ? ", ..." : "");
	if (go)
		rl_log("health check: GO (%zu node%s, %zu ranks)", nnodes, nnodes == 1 ? "" : "s",
		       nnodes * (size_t)gpus_per_node);
	else
		rl_log("health check: NO-GO (%zu of %zu nodes failed); COMMAND was not started",
		       failed, nnodes);
}

/* JSON string: quotes, backslashes and control characters escaped. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

int rl_check_write_report(const char *path, const struct rl_check_setup *s,
			  const struct rl_node_info *nodes, size_t nnodes, int gpus_per_node,
			  const struct rl_check_result *results,
			  const struct rl_check_node_row *rows, bool go)
{
	FILE *f = fopen(path, "we");
	int rc;

	if (!f)
		return -errno;
	fprintf(f, "{\n  \"verdict\": \"%s\",\n  \"backend\": ", go ? "GO" : "NO-GO");
	json_str(f, s->backend);
	fprintf(f, ",\n  \"provider\": ");
	json_str(f, s->provider);
	fprintf(f, ",\n  \"bytes\": %ld,\n  \"iterations\": %d,\n  \"min_busbw_gbps\": %.3f,\n"
		"  \"nodes\": [\n", s->bytes, s->iters, s->min_busbw_gbps);
	for (size_t n = 0; n < nnodes; n++) {
		char a[RL_ADDR_STRLEN];

		fprintf(f, "    {\"node_rank\": %zu, \"host\": ", n);
		json_str(f, nodes[n].host);
		fprintf(f, ", \"address\": \"%s\", \"node_busbw_gbps\": %.3f, \"all_busbw_gbps\": %.3f, "
			"\"ok\": %s, \"reason\": ", rl_addr_format(&nodes[n].addr, a, sizeof(a)),
			rows[n].node_gbps, rows[n].all_gbps, rows[n].ok ? "true" : "false");
		json_str(f, rows[n].ok ? "" : rows[n].why);
		fprintf(f, ", \"ranks\": [");
		for (int l = 0; l < gpus_per_node; l++) {
			const struct rl_check_result *r = &results[n * (size_t)gpus_per_node + (size_t)l];
			fprintf(f, "%s{\"rank\": %d, \"status\": ", l ? ", " : "", r->rank);
			json_str(f, rl_check_status_name(r->status));
			fprintf(f, ", \"node_busbw_gbps\": %.3f, \"all_busbw_gbps\": %.3f, \"bad_index\": %lld, "
				"\"message\": ", (double)r->node_busbw_kbps / 1e6,
				(double)r->all_busbw_kbps / 1e6, (long long)r->bad_index);
			json_str(f, r->message);
			fputc('}', f);
		}
		fprintf(f, "]}%s\n", n + 1 < nnodes ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	rc = ferror(f) ? -EIO : 0;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	return rc;
}
