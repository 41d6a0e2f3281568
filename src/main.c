/* rlaunch: options -> plan -> rank environments -> supervised job.
 * Also the worker stage of every rank (see worker_stage.h).
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "rlaunch/command_path.h"
#include "rlaunch/cuda_devices.h"
#include "rlaunch/exit_codes.h"
#include "rlaunch/log.h"
#include "rlaunch/net_preset.h"
#include "rlaunch/node_gpus.h"
#include "rlaunch/options.h"
#include "rlaunch/plan.h"
#include "rlaunch/rank_env.h"
#include "rlaunch/supervise.h"
#include "rlaunch/worker_stage.h"

#ifndef RLAUNCH_VERSION
#define RLAUNCH_VERSION "0.0.0"
#endif

extern char **environ;

/* --master-port 0: let the kernel pick a port that is free right now. */
static int pick_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void default_run_id(char *buf, size_t len)
{
	const char *job = getenv("SLURM_JOB_ID");
	unsigned char rnd[6] = { 0 };

	if (job && *job && strlen(job) < len) {
		snprintf(buf, len, "%s", job);
		return;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		unsigned long x = (unsigned long)getpid() ^ (unsigned long)time(NULL);
		memcpy(rnd, &x, sizeof(rnd));
	}
	snprintf(buf, len, "%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
}

static int mkdir_p(const char *dir)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* --dry-run: what would be started, and how each rank's environment differs. */
static void print_dry_run(const struct rl_plan *p, const struct rl_rank_env_input *in,
			  char *const *command, const char *host)
{
	printf("plan: %d node%s x %d rank%s = world size %d%s\n", p->nodes, p->nodes == 1 ? "" : "s",
	       p->gpus_per_node, p->gpus_per_node == 1 ? "" : "s", p->world_size,
	       p->cpu_only ? " (CPU ranks: no GPU on this node)" : "");
	printf("node %d: host %s, master %s:%d, ranks %d-%d\n", p->node_rank, host, p->master_addr,
	       p->master_port, p->slots[0].rank, p->slots[p->gpus_per_node - 1].rank);
	printf("command:");
	for (char *const *a = command; *a; a++)
		printf(" %s", *a);
	printf("\n");
	for (int i = 0; i < p->gpus_per_node; i++) {
		struct rl_strv env;

		if (rl_rank_env_build(&env, in, i) < 0)
			return;
		printf("rank %d (local %d%s%s):\n", p->slots[i].rank, i,
		       p->cpu_only ? "" : ", gpu ", p->slots[i].gpu);
		for (size_t k = 0; k < env.n; k++) {
			const char *eq = strchr(env.v[k], '=');
			char key[256];
			size_t klen = (size_t)(eq - env.v[k]);
			const char *old;

			if (klen >= sizeof(key))
				continue;
			memcpy(key, env.v[k], klen);
			key[klen] = '\0';
			old = rl_env_lookup(in->envp, key);
			if (!old || strcmp(old, eq + 1) != 0)
				printf("  %s\n", env.v[k]);
		}
		for (char *const *e = in->envp; e && *e; e++) {
			const char *eq = strchr(*e, '=');
			char key[256];
			size_t klen = eq ? (size_t)(eq - *e) : 0;

			if (!eq || klen >= sizeof(key))
				continue;
			memcpy(key, *e, klen);
			key[klen] = '\0';
			if (!rl_env_lookup(env.v, key))
				printf("  unset %s\n", key);
		}
		rl_strv_release(&env);
	}
}

static int run(int argc, char **argv)
{
	struct rl_options opts;
	struct rl_cuda_devices cvd;
	struct rl_plan plan = { 0 };
	char err[512] = "", run_id[160], host[256] = "localhost";
	int machine_gpus = 0, status;

	rl_options_init(&opts);
	if (rl_options_parse(&opts, argc, argv, err, sizeof(err)) < 0) {
		rl_log("%s", err);
		rl_options_release(&opts);
		return RL_EXIT_USAGE;
	}
	if (opts.action == RL_ACTION_HELP) {
		fputs(rl_usage_text, stdout);
		rl_options_release(&opts);
		return RL_EXIT_OK;
	}
	if (opts.action == RL_ACTION_VERSION) {
		printf("rlaunch %s\n", RLAUNCH_VERSION);
		rl_options_release(&opts);
		return RL_EXIT_OK;
	}
	if (opts.nodes != 1) {
		rl_log("--nodes %d: multi-node jobs need a rendezvous (PMIx, Slurm or --rdzv-endpoint), "
		       "which this version does not have yet; run one rlaunch with --nodes 1", opts.nodes);
		rl_options_release(&opts);
		return RL_EXIT_USAGE;
	}

	status = RL_EXIT_USAGE;
	if (rl_cuda_devices_parse(&cvd, getenv("CUDA_VISIBLE_DEVICES"), err, sizeof(err)) < 0) {
		rl_log("%s", err);
		goto out_cvd;
	}
	if (opts.gpus_per_node < 0 || !cvd.set)
		machine_gpus = rl_node_gpu_count("/proc");
	if (rl_plan_build_local(&plan, &opts, &cvd, machine_gpus, err, sizeof(err)) < 0) {
		rl_log("%s", err);
		goto out_plan;
	}
	if (plan.master_port == 0 && (plan.master_port = pick_free_port()) < 0) {
		rl_log("cannot find a free port for MASTER_PORT: %s", strerror(errno));
		status = RL_EXIT_SYSTEM;
		goto out_plan;
	}
	gethostname(host, sizeof(host) - 1);
	if (opts.run_id)
		snprintf(run_id, sizeof(run_id), "%s", opts.run_id);
	else
		default_run_id(run_id, sizeof(run_id));

	struct rl_rank_env_input env_in = {
		.envp = environ,
		.plan = &plan,
		.opts = &opts,
		.net = opts.net == RL_NET_AUTO ? rl_net_preset_detect("/sys") : opts.net,
		.restart_count = 0,
		.run_id = run_id,
	};

	/* the command must exist before anything starts (rank 0's PATH decides) */
	{
		struct rl_strv env0;
		int rc;

		if (rl_rank_env_build(&env0, &env_in, 0) < 0) {
			status = RL_EXIT_SYSTEM;
			goto out_plan;
		}
		rc = rl_command_check(opts.command[0], rl_env_lookup(env0.v, "PATH"));
		rl_strv_release(&env0);
		if (rc < 0) {
			rl_log("cannot run '%s': %s", opts.command[0], rl_command_check_reason(rc));
			rl_command_hint(opts.command[0]);
			status = rc == -ENOENT ? RL_EXIT_NOT_FOUND : RL_EXIT_NOT_EXECUTABLE;
			goto out_plan;
		}
	}

	if (opts.dry_run) {
		print_dry_run(&plan, &env_in, opts.command, host);
		status = RL_EXIT_OK;
		goto out_plan;
	}
	if (opts.log_dir) {
		int rc = mkdir_p(opts.log_dir);
		if (rc < 0) {
			rl_log("cannot create log directory '%s': %s", opts.log_dir, strerror(-rc));
			goto out_plan;
		}
	}

	if (plan.cpu_only && !opts.dry_run)
		rl_log("no GPUs on this node; starting %d rank%s as CPU processes",
		       plan.gpus_per_node, plan.gpus_per_node == 1 ? "" : "s");
	struct rl_job_params params = {
		.opts = &opts,
		.plan = &plan,
		.env_in = env_in,
		.command = opts.command,
		.host = host,
	};
	status = rl_job_run(&params);

out_plan:
	rl_plan_release(&plan);
out_cvd:
	rl_cuda_devices_release(&cvd);
	rl_options_release(&opts);
	return status;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], RL_WORKER_STAGE_ARG) == 0)
		return rl_worker_stage_main(argc, argv);
	return run(argc, argv);
}
