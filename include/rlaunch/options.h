/* Command line → struct rl_options. Pure: reads only argv, has no side
 * effects, prints nothing. torchrun's spellings are accepted: every flag
 * may use '_' for '-', and --nproc-per-node / --nnodes / --rdzv-id are
 * aliases. "--flag value" and "--flag=value" both work. The command starts
 * at "--" or at the first argument that is not an option.
 */
#ifndef RLAUNCH_OPTIONS_H
#define RLAUNCH_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rlaunch/strv.h"

#define RL_MAX_LOCAL_RANKS 1024
#define RL_DEFAULT_MASTER_PORT 29500
#define RL_DEFAULT_GRACE_S 30.0

enum rl_action { RL_ACTION_RUN, RL_ACTION_HELP, RL_ACTION_VERSION };

/* What each rank sees of CUDA_VISIBLE_DEVICES (see README). */
enum rl_cvd_policy {
	RL_CVD_RESET,  /* unset it; LOCAL_RANK = physical GPU id */
	RL_CVD_KEEP,   /* pass it on unchanged; LOCAL_RANK = index into it */
	RL_CVD_SINGLE, /* set it to the rank's own GPU only */
};

enum rl_net_preset { RL_NET_AUTO, RL_NET_EFA, RL_NET_IB, RL_NET_SOCKET, RL_NET_NONE };

enum rl_cpu_affinity { RL_AFFINITY_GPU, RL_AFFINITY_NONE };

enum rl_check_kind { RL_CHECK_NONE, RL_CHECK_AUTO, RL_CHECK_OFI, RL_CHECK_NCCL };

enum rl_rdzv_kind { RL_RDZV_AUTO, RL_RDZV_PMIX, RL_RDZV_SLURM, RL_RDZV_TCP, RL_RDZV_SINGLE };

#define RL_DEFAULT_RDZV_TIMEOUT_S 300.0

struct rl_options {
	enum rl_action action;
	int gpus_per_node;          /* -1: from CUDA_VISIBLE_DEVICES or the machine */
	int nodes;
	bool nodes_given;
	int node_rank;              /* -1: not given (a hint only across nodes) */
	enum rl_rdzv_kind rdzv;
	const char *rdzv_endpoint;  /* HOST:PORT */
	double rdzv_timeout_s;
	const char *node_addr;      /* this node's address, instead of --iface */
	const char *iface;          /* NCCL_SOCKET_IFNAME-style filter */
	const char *token_file;
	bool insecure;
	enum rl_check_kind check;
	bool check_only;
	long check_bytes;           /* per all-reduce */
	int check_iters;
	double check_timeout_s;
	double check_min_busbw;     /* GB/s, per phase; 0: no threshold */
	const char *report_file;
	const char *ofi_provider;   /* NULL: FI_PROVIDER, else tcp */
	const char *nccl_lib;       /* NULL: libnccl.so.2 from the loader */
	const char *master_addr;    /* NULL: default */
	int master_port;            /* 0: pick a free port */
	struct rl_strv env_overrides; /* "K=V", applied last, in order */
	enum rl_net_preset net;
	enum rl_cvd_policy cvd;
	enum rl_cpu_affinity affinity;
	int max_restarts;
	double grace_s;
	const char *log_dir;
	bool prefix;
	bool ranks_filter_set;
	uint8_t ranks_filter[RL_MAX_LOCAL_RANKS / 8]; /* local ranks shown on the console */
	const char *run_id;         /* NULL: SLURM_JOB_ID or random */
	bool dry_run;
	char **command;             /* points into argv; NULL-terminated */
};

void rl_options_init(struct rl_options *o);
void rl_options_release(struct rl_options *o);

/**
 * Parse argv. Returns 0, or -EINVAL with a one-line reason in err (no
 * "rlaunch:" prefix) and o left safe to release. A missing command is an
 * error only for RL_ACTION_RUN.
 */
int rl_options_parse(struct rl_options *o, int argc, char **argv, char *err, size_t errlen);

/** Is this local rank's output shown on the console? */
bool rl_options_shows_rank(const struct rl_options *o, int local_rank);

const char *rl_net_preset_name(enum rl_net_preset net);
const char *rl_cvd_policy_name(enum rl_cvd_policy cvd);

/** The --help text. */
extern const char rl_usage_text[];

#endif
