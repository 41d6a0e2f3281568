#include "rlaunch/options.h"

#include <errno.h>
#include <string.h>

#include "rlaunch/log.h"
#include "rlaunch/parse.h"

const char rl_usage_text[] =
"usage: rlaunch [options] [--] COMMAND [ARGS...]\n"
"\n"
"Start one process per GPU on this node with the environment PyTorch expects\n"
"(RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, ...), supervise them, and bring\n"
"the whole job down when one rank fails. COMMAND is executed as given (use\n"
"'python3 train.py', not 'train.py').\n"
"\n"
"Placement:\n"
"  --gpus-per-node G      ranks on this node (alias --nproc-per-node). Default:\n"
"                         the GPUs in CUDA_VISIBLE_DEVICES, else the GPUs of the\n"
"                         machine. Without GPUs, G CPU processes are started.\n"
"  --nodes N              number of nodes, one rlaunch each (alias --nnodes)\n"
"  --node-rank R          accepted as a hint only: node ranks follow addresses\n"
"  --master-addr ADDR     MASTER_ADDR for the ranks (default 127.0.0.1)\n"
"  --master-port PORT     MASTER_PORT (default 29500; 0 picks a free port)\n"
"  --cuda-visible-devices reset|keep|single\n"
"                         reset (default): unset CUDA_VISIBLE_DEVICES, LOCAL_RANK\n"
"                         is the physical GPU id; keep: pass it on, LOCAL_RANK\n"
"                         indexes into it; single: each rank sees only its GPU\n"
"  --cpu-affinity gpu|none  pin each rank to the CPUs near its GPU (default gpu)\n"
"\n"
"Rendezvous (several nodes; one rlaunch per node):\n"
"  --rdzv auto|pmix|slurm|tcp|single\n"
"                         how agents find each other (default auto: pmix under\n"
"                         srun --mpi=pmix or mpirun, slurm under srun, tcp with\n"
"                         --rdzv-endpoint, else single)\n"
"  --rdzv-endpoint HOST:PORT  tcp: the agent on HOST serves, the others connect;\n"
"                         slurm: only PORT is used (alias --rdzv_endpoint)\n"
"  --rdzv-timeout SECONDS how long to wait for every agent (300); bounds the\n"
"                         PMIx exchange too\n"
"  --node-addr ADDR       this node's address (default: first address of an\n"
"                         interface matching --iface)\n"
"  --iface LIST           interface filter in NCCL_SOCKET_IFNAME syntax\n"
"                         (default ^docker,lo,veth)\n"
"  --token-file FILE      the job secret (default: $RLAUNCH_TOKEN); agents prove\n"
"                         they know it, it never crosses the network\n"
"  --insecure             allow a multi-node job without a secret\n"
"  --rdzv-backend NAME    accepted for torchrun compatibility (c10d, static)\n"
"\n"
"Environment:\n"
"  --env K=V              set K=V for every rank; repeatable; always wins\n"
"  --net efa|ib|socket|none|auto\n"
"                         NCCL/libfabric preset (default auto: efa or ib when\n"
"                         such devices exist, else none); never overrides a\n"
"                         variable already set\n"
"  --run-id ID            TORCHELASTIC_RUN_ID (alias --rdzv-id; default\n"
"                         SLURM_JOB_ID, else random)\n"
"\n"
"Supervision:\n"
"  --max-restarts N       restart all ranks up to N times after a failure (0)\n"
"  --grace SECONDS        SIGTERM to SIGKILL delay when stopping ranks (30)\n"
"\n"
"Output:\n"
"  --prefix, --no-prefix  prefix each output line with [rankN]: (default on)\n"
"  --local-ranks-filter LIST\n"
"                         local ranks shown on the console, e.g. 0 or 0,2-3\n"
"  --log-dir DIR          also write each rank's output to DIR/rank<N>.log\n"
"\n"
"Health check (before COMMAND, on every rank):\n"
"  --check none|auto|nccl|ofi\n"
"                         none (default for now); nccl: NCCL all-reduce on each\n"
"                         rank's GPU; ofi: a libfabric ring all-reduce on host\n"
"                         buffers; auto: nccl for GPU ranks, else ofi. First\n"
"                         within each node, then across all ranks; every\n"
"                         element verified\n"
"  --nccl-lib PATH        the libnccl.so.2 the training will load (default: the\n"
"                         loader's libnccl.so.2)\n"
"  --check-only           stop after the check and its report (bring-up testing)\n"
"  --check-bytes N        bytes per all-reduce (default 64 MiB for nccl, 8 MiB\n"
"                         for ofi)\n"
"  --check-iters N        timed iterations per phase (default 5)\n"
"  --check-timeout SECONDS  a phase longer than this fails the check (60)\n"
"  --check-min-busbw GBPS fail a phase whose bus bandwidth is lower\n"
"  --ofi-provider NAME    libfabric provider (default $FI_PROVIDER, else tcp)\n"
"  --report FILE          also write the check's result as JSON\n"
"\n"
"  --dry-run              print the plan and every rank's environment, start nothing\n"
"  --version              print the version\n"
"  -h, --help             print this help\n"
"\n"
"torchrun spellings with '_' are accepted (--nproc_per_node), and --standalone\n"
"is accepted and ignored.\n"
"\n"
"Exit status: 0 on success; the first failing rank's exit code (128+N when\n"
"killed by signal N); 2 for bad usage; 71 for a system error; 74 when a node\n"
"or the coordinator was lost; 75 when the rendezvous failed; 77 when the job\n"
"secret did not match; 126/127 when COMMAND cannot be executed / is not\n"
"found; 128+N when rlaunch was stopped by signal N.\n";

void rl_options_init(struct rl_options *o)
{
	memset(o, 0, sizeof(*o));
	o->action = RL_ACTION_RUN;
	o->gpus_per_node = -1;
	o->nodes = 1;
	o->node_rank = -1;
	o->rdzv = RL_RDZV_AUTO;
	o->check = RL_CHECK_NONE;
	o->check_bytes = 0; /* by backend: 64 MiB on GPUs, 8 MiB on host buffers */
	o->check_iters = 5;
	o->check_timeout_s = 60;
	o->rdzv_timeout_s = RL_DEFAULT_RDZV_TIMEOUT_S;
	o->master_port = RL_DEFAULT_MASTER_PORT;
	o->net = RL_NET_AUTO;
	o->cvd = RL_CVD_RESET;
	o->affinity = RL_AFFINITY_GPU;
	o->grace_s = RL_DEFAULT_GRACE_S;
	o->prefix = true;
}

void rl_options_release(struct rl_options *o)
{
	rl_strv_release(&o->env_overrides);
}

bool rl_options_shows_rank(const struct rl_options *o, int local_rank)
{
	if (!o->ranks_filter_set)
		return true;
	if (local_rank < 0 || local_rank >= RL_MAX_LOCAL_RANKS)
		return false;
	return rl_bit_test(o->ranks_filter, (unsigned)local_rank);
}

static const char *const net_names[] = {
	[RL_NET_AUTO] = "auto", [RL_NET_EFA] = "efa", [RL_NET_IB] = "ib",
	[RL_NET_SOCKET] = "socket", [RL_NET_NONE] = "none",
};
static const char *const cvd_names[] = {
	[RL_CVD_RESET] = "reset", [RL_CVD_KEEP] = "keep", [RL_CVD_SINGLE] = "single",
};
static const char *const affinity_names[] = {
	[RL_AFFINITY_GPU] = "gpu", [RL_AFFINITY_NONE] = "none",
};

const char *rl_net_preset_name(enum rl_net_preset net) { return net_names[net]; }
const char *rl_cvd_policy_name(enum rl_cvd_policy cvd) { return cvd_names[cvd]; }

static int pick_name(const char *value, const char *const *names, int count)
{
	for (int i = 0; i < count; i++)
		if (strcmp(value, names[i]) == 0)
			return i;
	return -1;
}

enum opt_id {
	OPT_GPUS, OPT_NODES, OPT_NODE_RANK, OPT_MASTER_ADDR, OPT_MASTER_PORT, OPT_ENV,
	OPT_NET, OPT_CVD, OPT_AFFINITY, OPT_MAX_RESTARTS, OPT_GRACE, OPT_LOG_DIR,
	OPT_PREFIX, OPT_NO_PREFIX, OPT_RANKS_FILTER, OPT_RUN_ID, OPT_STANDALONE,
	OPT_DRY_RUN, OPT_VERSION, OPT_HELP, OPT_RDZV, OPT_RDZV_ENDPOINT, OPT_RDZV_TIMEOUT,
	OPT_NODE_ADDR, OPT_IFACE, OPT_TOKEN_FILE, OPT_INSECURE, OPT_RDZV_BACKEND,
	OPT_CHECK, OPT_CHECK_ONLY, OPT_CHECK_BYTES, OPT_CHECK_ITERS, OPT_CHECK_TIMEOUT,
	OPT_CHECK_MIN_BUSBW, OPT_REPORT, OPT_OFI_PROVIDER, OPT_NCCL_LIB,
};

struct opt_spec {
	const char *name;   /* canonical spelling, dashes */
	enum opt_id id;
	bool takes_value;
};

static const struct opt_spec opt_table[] = {
	{ "gpus-per-node", OPT_GPUS, true },
	{ "nproc-per-node", OPT_GPUS, true },
	{ "nodes", OPT_NODES, true },
	{ "nnodes", OPT_NODES, true },
	{ "node-rank", OPT_NODE_RANK, true },
	{ "master-addr", OPT_MASTER_ADDR, true },
	{ "master-port", OPT_MASTER_PORT, true },
	{ "env", OPT_ENV, true },
	{ "net", OPT_NET, true },
	{ "cuda-visible-devices", OPT_CVD, true },
	{ "cpu-affinity", OPT_AFFINITY, true },
	{ "max-restarts", OPT_MAX_RESTARTS, true },
	{ "grace", OPT_GRACE, true },
	{ "log-dir", OPT_LOG_DIR, true },
	{ "prefix", OPT_PREFIX, false },
	{ "no-prefix", OPT_NO_PREFIX, false },
	{ "local-ranks-filter", OPT_RANKS_FILTER, true },
	{ "run-id", OPT_RUN_ID, true },
	{ "rdzv-id", OPT_RUN_ID, true },
	{ "standalone", OPT_STANDALONE, false },
	{ "dry-run", OPT_DRY_RUN, false },
	{ "version", OPT_VERSION, false },
	{ "help", OPT_HELP, false },
	{ "rdzv", OPT_RDZV, true },
	{ "rdzv-endpoint", OPT_RDZV_ENDPOINT, true },
	{ "rdzv-timeout", OPT_RDZV_TIMEOUT, true },
	{ "node-addr", OPT_NODE_ADDR, true },
	{ "iface", OPT_IFACE, true },
	{ "token-file", OPT_TOKEN_FILE, true },
	{ "insecure", OPT_INSECURE, false },
	{ "rdzv-backend", OPT_RDZV_BACKEND, true },
	{ "check", OPT_CHECK, true },
	{ "check-only", OPT_CHECK_ONLY, false },
	{ "check-bytes", OPT_CHECK_BYTES, true },
	{ "check-iters", OPT_CHECK_ITERS, true },
	{ "check-timeout", OPT_CHECK_TIMEOUT, true },
	{ "check-min-busbw", OPT_CHECK_MIN_BUSBW, true },
	{ "report", OPT_REPORT, true },
	{ "ofi-provider", OPT_OFI_PROVIDER, true },
	{ "nccl-lib", OPT_NCCL_LIB, true },
};

/* Flag names compare with '_' and '-' treated alike (torchrun takes both). */
static bool name_equals(const char *spec, const char *arg, size_t arglen)
{
	size_t i;
	for (i = 0; i < arglen && spec[i]; i++) {
		char c = arg[i] == '_' ? '-' : arg[i];
		if (c != spec[i])
			return false;
	}
	return i == arglen && spec[i] == '\0';
}

static const struct opt_spec *find_opt(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(opt_table) / sizeof(opt_table[0]); i++)
		if (name_equals(opt_table[i].name, name, len))
			return &opt_table[i];
	return NULL;
}

static int bad_value(char *err, size_t errlen, const char *flag, const char *value,
		     const char *expected)
{
	rl_errbuf(err, errlen, "invalid value '%s' for --%s: expected %s", value, flag, expected);
	return -EINVAL;
}

/* Values that end up in every rank's environment or in a path: a newline or
 * an escape there corrupts what the ranks and the logs see. */
static bool has_control(const char *v, bool or_space)
{
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		if (c < 0x20 || c == 0x7f || (or_space && c == ' '))
			return true;
	}
	return false;
}

static int bad_chars(char *err, size_t errlen, const char *flag, bool or_space)
{
	rl_errbuf(err, errlen, "invalid value for --%s: %s are not allowed", flag,
		  or_space ? "spaces and control characters" : "control characters");
	return -EINVAL;
}

static int apply(struct rl_options *o, const struct opt_spec *spec, const char *v,
		 char *err, size_t errlen)
{
	long n;
	int idx;

	switch (spec->id) {
	case OPT_GPUS:
		if (strcmp(v, "auto") == 0 || strcmp(v, "gpu") == 0) {
			o->gpus_per_node = -1;
			return 0;
		}
		if (rl_parse_long(v, 1, RL_MAX_LOCAL_RANKS, &n) < 0)
			return bad_value(err, errlen, spec->name, v,
					 "a whole number from 1 to 1024, or 'auto'");
		o->gpus_per_node = (int)n;
		return 0;
	case OPT_NODES:
		if (strchr(v, ':')) {
			rl_errbuf(err, errlen, "elastic node ranges such as '--nnodes %s' are not "
				  "supported: give a fixed number of nodes", v);
			return -EINVAL;
		}
		if (rl_parse_long(v, 1, 1000000, &n) < 0)
			return bad_value(err, errlen, spec->name, v, "a whole number of at least 1");
		o->nodes = (int)n;
		o->nodes_given = true;
		return 0;
	case OPT_NODE_RANK:
		if (rl_parse_long(v, 0, 1000000, &n) < 0)
			return bad_value(err, errlen, spec->name, v, "a whole number of at least 0");
		o->node_rank = (int)n;
		return 0;
	case OPT_MASTER_ADDR:
		if (has_control(v, true))
			return bad_chars(err, errlen, spec->name, true);
		if (!*v || strlen(v) > 255)
			return bad_value(err, errlen, spec->name, v, "a host name or address");
		o->master_addr = v;
		return 0;
	case OPT_MASTER_PORT:
		if (rl_parse_long(v, 0, 65535, &n) < 0)
			return bad_value(err, errlen, spec->name, v, "a port from 0 to 65535");
		o->master_port = (int)n;
		return 0;
	case OPT_ENV: {
		const char *eq = strchr(v, '=');
		if (!eq || eq == v)
			return bad_value(err, errlen, spec->name, v, "KEY=VALUE");
		for (const char *c = v; c < eq; c++) {
			if (!(*c == '_' || (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
			      (c > v && *c >= '0' && *c <= '9')))
				return bad_value(err, errlen, spec->name, v,
						 "KEY=VALUE with KEY made of letters, digits and '_'");
		}
		if (rl_strv_push(&o->env_overrides, v) < 0) {
			rl_errbuf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		return 0;
	}
	case OPT_NET:
		if ((idx = pick_name(v, net_names, 5)) < 0)
			return bad_value(err, errlen, spec->name, v, "efa, ib, socket, none or auto");
		o->net = (enum rl_net_preset)idx;
		return 0;
	case OPT_CVD:
		if ((idx = pick_name(v, cvd_names, 3)) < 0)
			return bad_value(err, errlen, spec->name, v, "reset, keep or single");
		o->cvd = (enum rl_cvd_policy)idx;
		return 0;
	case OPT_AFFINITY:
		if ((idx = pick_name(v, affinity_names, 2)) < 0)
			return bad_value(err, errlen, spec->name, v, "gpu or none");
		o->affinity = (enum rl_cpu_affinity)idx;
		return 0;
	case OPT_MAX_RESTARTS:
		if (rl_parse_long(v, 0, 1000000, &n) < 0)
			return bad_value(err, errlen, spec->name, v, "a whole number of at least 0");
		o->max_restarts = (int)n;
		return 0;
	case OPT_GRACE:
		if (rl_parse_seconds(v, 86400, &o->grace_s) < 0)
			return bad_value(err, errlen, spec->name, v, "seconds from 0 to 86400");
		return 0;
	case OPT_LOG_DIR:
		if (has_control(v, false))
			return bad_chars(err, errlen, spec->name, false);
		if (!*v)
			return bad_value(err, errlen, spec->name, v, "a directory");
		o->log_dir = v;
		return 0;
	case OPT_PREFIX:
		o->prefix = true;
		return 0;
	case OPT_NO_PREFIX:
		o->prefix = false;
		return 0;
	case OPT_RANKS_FILTER:
		if (rl_parse_index_list(v, o->ranks_filter, RL_MAX_LOCAL_RANKS) < 0)
			return bad_value(err, errlen, spec->name, v,
					 "local ranks such as 0 or 0,2-3");
		o->ranks_filter_set = true;
		return 0;
	case OPT_RUN_ID:
		if (has_control(v, true))
			return bad_chars(err, errlen, spec->name, true);
		if (!*v || strlen(v) > 128 || strchr(v, '='))
			return bad_value(err, errlen, spec->name, v, "a non-empty id of at most 128 characters");
		o->run_id = v;
		return 0;
	case OPT_STANDALONE:
		return 0;
	case OPT_RDZV: {
		static const char *const kinds[] = { "auto", "pmix", "slurm", "tcp", "single" };
		if ((idx = pick_name(v, kinds, 5)) < 0)
			return bad_value(err, errlen, spec->name, v, "auto, pmix, slurm, tcp or single");
		o->rdzv = (enum rl_rdzv_kind)idx;
		return 0;
	}
	case OPT_RDZV_BACKEND:
		if (strcmp(v, "c10d") != 0 && strcmp(v, "static") != 0)
			return bad_value(err, errlen, spec->name, v, "c10d or static (both mean --rdzv tcp)");
		if (o->rdzv == RL_RDZV_AUTO)
			o->rdzv = RL_RDZV_TCP;
		return 0;
	case OPT_RDZV_ENDPOINT:
		if (!*v || strlen(v) > 255 || has_control(v, true))
			return bad_value(err, errlen, spec->name, v, "HOST:PORT");
		o->rdzv_endpoint = v;
		return 0;
	case OPT_RDZV_TIMEOUT:
		if (rl_parse_seconds(v, 86400, &o->rdzv_timeout_s) < 0 || o->rdzv_timeout_s <= 0)
			return bad_value(err, errlen, spec->name, v, "seconds from 0 to 86400");
		return 0;
	case OPT_NODE_ADDR:
		if (!*v || strlen(v) > 45 || has_control(v, true))
			return bad_value(err, errlen, spec->name, v, "a numeric IPv4 or IPv6 address");
		o->node_addr = v;
		return 0;
	case OPT_IFACE:
		if (!*v || strlen(v) > 255 || has_control(v, true))
			return bad_value(err, errlen, spec->name, v, "interface names such as eth0 or ^docker,lo");
		o->iface = v;
		return 0;
	case OPT_TOKEN_FILE:
		if (!*v)
			return bad_value(err, errlen, spec->name, v, "a file");
		o->token_file = v;
		return 0;
	case OPT_CHECK: {
		static const char *const kinds[] = { "none", "auto", "ofi", "nccl" };
		if ((idx = pick_name(v, kinds, 4)) < 0)
			return bad_value(err, errlen, spec->name, v, "none, auto, nccl or ofi");
		o->check = (enum rl_check_kind)idx;
		return 0;
	}
	case OPT_CHECK_ONLY:
		o->check_only = true;
		return 0;
	case OPT_CHECK_BYTES:
		if (rl_parse_long(v, 1024, 1L << 34, &n) < 0 || n % 4)
			return bad_value(err, errlen, spec->name, v, "a multiple of 4 from 1024 to 16 GiB");
		o->check_bytes = n;
		return 0;
	case OPT_CHECK_ITERS:
		if (rl_parse_long(v, 1, 100000, &n) < 0)
			return bad_value(err, errlen, spec->name, v, "a whole number from 1 to 100000");
		o->check_iters = (int)n;
		return 0;
	case OPT_CHECK_TIMEOUT:
		if (rl_parse_seconds(v, 86400, &o->check_timeout_s) < 0 || o->check_timeout_s <= 0)
			return bad_value(err, errlen, spec->name, v, "seconds from 0 to 86400");
		return 0;
	case OPT_CHECK_MIN_BUSBW:
		if (rl_parse_seconds(v, 1e6, &o->check_min_busbw) < 0)
			return bad_value(err, errlen, spec->name, v, "GB/s, a number of at least 0");
		return 0;
	case OPT_REPORT:
		if (!*v || has_control(v, false))
			return bad_value(err, errlen, spec->name, v, "a file name");
		o->report_file = v;
		return 0;
	case OPT_OFI_PROVIDER:
		if (!*v || strlen(v) > 60 || has_control(v, true))
			return bad_value(err, errlen, spec->name, v, "a provider name such as tcp or efa");
		o->ofi_provider = v;
		return 0;
	case OPT_NCCL_LIB:
		if (!*v || strlen(v) > 400 || strchr(v, ',') || has_control(v, false))
			return bad_value(err, errlen, spec->name, v, "the path of a libnccl.so.2 (no commas)");
		o->nccl_lib = v;
		return 0;
	case OPT_INSECURE:
		o->insecure = true;
		return 0;
	case OPT_DRY_RUN:
		o->dry_run = true;
		return 0;
	case OPT_VERSION:
		o->action = RL_ACTION_VERSION;
		return 0;
	case OPT_HELP:
		o->action = RL_ACTION_HELP;
		return 0;
	}
	return -EINVAL;
}

int rl_options_parse(struct rl_options *o, int argc, char **argv, char *err, size_t errlen)
{
	int i;

	if (!o->env_overrides.v && rl_strv_init(&o->env_overrides) < 0) {
		rl_errbuf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *name, *eq, *value = NULL;
		const struct opt_spec *spec;
		size_t len;
		int rc;

		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(arg, "-h") == 0) {
			o->action = RL_ACTION_HELP;
			continue;
		}
		if (arg[0] != '-' || arg[1] == '\0')
			break; /* first word of the command */
		if (arg[1] != '-') {
			rl_errbuf(err, errlen, "unknown option '%s' (see 'rlaunch --help')", arg);
			return -EINVAL;
		}
		name = arg + 2;
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		spec = find_opt(name, len);
		if (!spec) {
			rl_errbuf(err, errlen, "unknown option '--%.*s' (see 'rlaunch --help')",
				  (int)len, name);
			return -EINVAL;
		}
		if (spec->takes_value) {
			if (eq) {
				value = eq + 1;
			} else if (i + 1 < argc) {
				value = argv[++i];
			} else {
				rl_errbuf(err, errlen, "option '--%s' needs a value", spec->name);
				return -EINVAL;
			}
		} else if (eq) {
			rl_errbuf(err, errlen, "option '--%s' takes no value", spec->name);
			return -EINVAL;
		}
		rc = apply(o, spec, value, err, errlen);
		if (rc < 0)
			return rc;
	}
	o->command = i < argc ? &argv[i] : NULL;
	if (o->action == RL_ACTION_RUN && !o->command) {
		rl_errbuf(err, errlen, "no command given: usage is 'rlaunch [options] -- COMMAND [ARGS...]'");
		return -EINVAL;
	}
	if (o->action == RL_ACTION_RUN && !o->command[0][0]) {
		rl_errbuf(err, errlen, "the command is empty: usage is 'rlaunch [options] -- COMMAND [ARGS...]'");
		return -EINVAL;
	}
	return 0;
}
