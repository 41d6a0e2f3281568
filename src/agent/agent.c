#include "rlaunch/agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "rlaunch/auth.h"
#include "rlaunch/bootstrap.h"
#include "rlaunch/command_path.h"
#include "rlaunch/console.h"
#include "rlaunch/coordinator.h"
#include "rlaunch/cuda_devices.h"
#include "rlaunch/exit_codes.h"
#include "rlaunch/log.h"
#include "rlaunch/member.h"
#include "rlaunch/munge_auth.h"
#include "rlaunch/net_preset.h"
#include "rlaunch/node_addr.h"
#include "rlaunch/node_gpus.h"
#include "rlaunch/plan.h"
#include "rlaunch/pmix_boot.h"
#include "rlaunch/rank_env.h"
#include "rlaunch/supervise.h"

struct agent {
	const struct rl_options *o;
	char **envp;
	uv_loop_t *loop;
	struct rl_bootstrap boot;
	struct rl_cuda_devices cvd;
	int machine_gpus;
	struct rl_plan plan;           /* the final plan, after the roster */
	bool have_plan;
	struct rl_secret secret;
	struct rl_node_info self;
	char host[RL_HOSTNAME_MAX + 1];
	char run_id[RL_RUN_ID_MAX + 1];
	char master_addr[RL_ADDR_STRLEN];
	char ifname[64];               /* the job's interface on this node, or "" */
	const char *check_backend;     /* "ofi", "nccl" */
	long check_bytes;
	char check_provider[408];
	char check_spec[512];          /* the worker stage's check settings, or "" */
	enum rl_net_preset net;
	struct rl_coord *coord;
	struct rl_member *member;
	struct rl_job_events events;
	struct rl_job *job;
	struct rl_job_params params;
	int status;
	bool done;
};

/* A port that is free on this node right now (MASTER_PORT 0, and what this
 * node offers to be MASTER_PORT if it becomes node 0). */
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

static void default_run_id(struct agent *a)
{
	const char *job = rl_env_lookup(a->envp, "SLURM_JOB_ID");
	unsigned char rnd[6] = { 0 };

	if (a->o->run_id) {
		snprintf(a->run_id, sizeof(a->run_id), "%s", a->o->run_id);
		return;
	}
	if (job && *job && strlen(job) < sizeof(a->run_id)) {
		snprintf(a->run_id, sizeof(a->run_id), "%s", job);
		return;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		unsigned long x = (unsigned long)getpid() ^ (unsigned long)time(NULL);
		memcpy(rnd, &x, sizeof(rnd));
	}
	snprintf(a->run_id, sizeof(a->run_id), "%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
		 rnd[3], rnd[4], rnd[5]);
}

static int mkdir_p(const char *dir)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);
	struct stat st;

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
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	return access(path, W_OK) == 0 ? 0 : -errno;
}

static struct rl_rank_env_input env_input(struct agent *a)
{
	struct rl_rank_env_input in = {
		.envp = a->envp,
		.plan = &a->plan,
		.opts = a->o,
		.net = a->net,
		.restart_count = 0,
		.run_id = a->run_id,
		.strip_launcher_env = a->boot.kind == RL_RDZV_PMIX,
		.socket_ifname = a->ifname[0] ? a->ifname : NULL,
	};
	return in;
}

/* --dry-run: what would be started, and how each rank's environment differs. */
static void print_dry_run(struct agent *a)
{
	const struct rl_plan *p = &a->plan;
	struct rl_rank_env_input in = env_input(a);

	printf("plan: %d node%s x %d rank%s = world size %d%s\n", p->nodes, p->nodes == 1 ? "" : "s",
	       p->gpus_per_node, p->gpus_per_node == 1 ? "" : "s", p->world_size,
	       p->cpu_only ? " (CPU ranks: no GPU on this node)" : "");
	if (a->boot.kind != RL_RDZV_SINGLE)
		printf("rendezvous: %s; node rank, MASTER_ADDR and the ranks below are decided there "
		       "(shown as node %d)\n", rl_rdzv_kind_name(a->boot.kind), p->node_rank);
	printf("node %d: host %s, master %s:%d, ranks %d-%d\n", p->node_rank, a->host, p->master_addr,
	       p->master_port, p->slots[0].rank, p->slots[p->gpus_per_node - 1].rank);
	printf("command:");
	for (char *const *arg = a->o->command; *arg; arg++)
		printf(" %s", *arg);
	printf("\n");
	for (int i = 0; i < p->gpus_per_node; i++) {
		struct rl_strv env;

		if (rl_rank_env_build(&env, &in, i) < 0)
			return;
		printf("rank %d (local %d%s%s):\n", p->slots[i].rank, i, p->cpu_only ? "" : ", gpu ",
		       p->slots[i].gpu);
		for (size_t k = 0; k < env.n; k++) {
			const char *eq = strchr(env.v[k], '=');
			char key[256];
			size_t klen = (size_t)(eq - env.v[k]);
			const char *old;

			if (klen >= sizeof(key))
				continue;
			memcpy(key, env.v[k], klen);
			key[klen] = '\0';
			old = rl_env_lookup(in.envp, key);
			if (!old || strcmp(old, eq + 1) != 0)
				printf("  %s\n", env.v[k]);
		}
		for (char *const *e = in.envp; e && *e; e++) {
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

/* ---- what the controller tells the agent ------------------------------------------ */

/* This node cannot take part: the attempt is over before it began. */
static void cannot_start(struct agent *a)
{
	struct rl_attempt_report report = { .system_error = true };
	a->events.attempt_over(a->events.ctx, &report);
}

static void op_roster(void *ctx, const struct rl_msg_roster *r, int node_rank)
{
	struct agent *a = ctx;
	struct rl_placement where;
	char err[512];
	int rc;

	if (a->o->master_addr)
		snprintf(a->master_addr, sizeof(a->master_addr), "%s", a->o->master_addr);
	else
		rl_addr_format(&r->nodes[0].addr, a->master_addr, sizeof(a->master_addr));
	snprintf(a->run_id, sizeof(a->run_id), "%s", r->run_id);
	where.nodes = (int)r->count;
	where.node_rank = node_rank;
	where.master_addr = a->master_addr;
	where.master_port = r->master_port;
	rl_plan_release(&a->plan);
	if (rl_plan_build_local(&a->plan, a->o, &a->cvd, a->machine_gpus, &where, err,
				sizeof(err)) < 0) {
		rl_log("%s", err);
		cannot_start(a);
		return;
	}
	a->have_plan = true;
	if (a->plan.cpu_only)
		rl_log("no GPUs on this node; starting %d rank%s as CPU processes",
		       a->plan.gpus_per_node, a->plan.gpus_per_node == 1 ? "" : "s");
	a->params.opts = a->o;
	a->params.plan = &a->plan;
	a->params.env_in = env_input(a);
	a->params.command = a->o->command;
	a->params.host = a->host;
	a->params.check_spec = a->check_spec;
	rc = rl_job_create(&a->job, a->loop, &a->params, &a->events);
	if (rc < 0) {
		rl_log("cannot set up the job: %s", strerror(-rc));
		cannot_start(a);
		return;
	}
	rl_job_start(a->job, 0);
}

static void op_abort(void *ctx)
{
	struct agent *a = ctx;
	if (a->job)
		rl_job_abort(a->job);
}

static void op_deliver_signal(void *ctx, int sig)
{
	struct agent *a = ctx;
	if (a->job)
		rl_job_deliver_signal(a->job, sig);
}

static void op_restart(void *ctx, int count)
{
	struct agent *a = ctx;
	if (a->job)
		rl_job_start(a->job, count);
}

static void op_to_ranks(void *ctx, const uint8_t *frame, size_t len)
{
	struct agent *a = ctx;
	if (a->job)
		rl_job_send_to_ranks(a->job, frame, len);
}

static void op_final(void *ctx, int status)
{
	struct agent *a = ctx;

	a->done = true;
	a->status = status;
	if (a->job)
		rl_job_close(a->job);
}

/* ---- before the rendezvous ---------------------------------------------------------- */

/* This node's G and what it can give, checked like the final plan will be. */
static int check_local_plan(struct agent *a)
{
	char err[512];
	struct rl_plan probe;
	/* before the rendezvous this node is shown as node 0 of the job */
	struct rl_placement where = { a->boot.nodes > 0 ? a->boot.nodes : 1, 0,
				      "<decided at the rendezvous>", a->o->master_port };

	if (rl_plan_build_local(&probe, a->o, &a->cvd, a->machine_gpus,
				a->boot.kind == RL_RDZV_SINGLE ? NULL : &where, err, sizeof(err)) < 0) {
		rl_log("%s", err);
		rl_plan_release(&probe);
		return -EINVAL;
	}
	for (int i = probe.gpus_per_node; a->o->ranks_filter_set && i < RL_MAX_LOCAL_RANKS; i++) {
		if (rl_options_shows_rank(a->o, i)) {
			rl_log("--local-ranks-filter names local rank %d, but this node runs %d rank%s "
			       "(0-%d)", i, probe.gpus_per_node, probe.gpus_per_node == 1 ? "" : "s",
			       probe.gpus_per_node - 1);
			rl_plan_release(&probe);
			return -EINVAL;
		}
	}
	a->self.gpus_per_node = (uint32_t)probe.gpus_per_node;
	a->self.gpus_available = probe.cpu_only ? 0 : (uint32_t)rl_plan_gpus_available(&a->cvd, a->machine_gpus);
	a->plan = probe; /* for --dry-run and the command check; replaced after the roster */
	return 0;
}

/* Each rank costs the agent four descriptors (output pipes, control pipe,
 * log file) and a coordinator one per agent: raise the soft limit when the
 * job needs it, up to the hard limit. */
static void raise_fd_limit(int ranks, int nodes)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)ranks * 4 + (rlim_t)nodes + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < need)
		rl_warn("%d ranks and %d nodes need about %lu open files but the limit is %lu: "
			"raise ulimit -n", ranks, nodes, (unsigned long)need, (unsigned long)rl.rlim_cur);
}

static int check_command(struct agent *a)
{
	struct rl_rank_env_input in = env_input(a);
	struct rl_strv env0;
	int rc;

	if (rl_rank_env_build(&env0, &in, 0) < 0)
		return RL_EXIT_SYSTEM;
	rc = rl_command_check(a->o->command[0], rl_env_lookup(env0.v, "PATH"));
	rl_strv_release(&env0);
	if (rc < 0) {
		rl_log("cannot run '%s': %s", a->o->command[0], rl_command_check_reason(rc));
		rl_command_hint(a->o->command[0]);
		return rc == -ENOENT ? RL_EXIT_NOT_FOUND : RL_EXIT_NOT_EXECUTABLE;
	}
	return 0;
}

static int load_secret(struct agent *a)
{
	char err[512];
	int rc;

	if (a->boot.nodes <= 1 && a->boot.kind != RL_RDZV_PMIX)
		return 0;
	rc = rl_secret_load(&a->secret, a->o->token_file, a->envp, err, sizeof(err));
	if (rc == 0)
		return 0;
	if (rc != -ENOENT) {
		rl_log("%s", err);
		return -EINVAL;
	}
	if (a->boot.kind == RL_RDZV_SLURM && !a->o->insecure) {
		/* under Slurm without a token: the same user, as MUNGE vouches */
		const char *sock = rl_env_lookup(a->envp, "RLAUNCH_MUNGE_SOCKET");
		if (rl_munge_open(sock, err, sizeof(err)) == 0) {
			memset(&a->secret, 0, sizeof(a->secret));
			a->secret.munge = true;
			a->secret.source = "MUNGE";
			return 0;
		}
		rl_log("no job token (RLAUNCH_TOKEN, --token-file) and MUNGE is unusable: %s; "
		       "export RLAUNCH_TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n') "
		       "before srun, or pass --insecure on a network you trust", err);
		return -EINVAL;
	}
	if (a->o->insecure || a->boot.kind == RL_RDZV_PMIX) {
		/* pmix: PMIx rank 0 generates one and shares it through PMIx */
		memset(&a->secret, 0, sizeof(a->secret));
		a->secret.source = a->o->insecure ? "--insecure" : "PMIx";
		return 0;
	}
	rl_log("a multi-node job needs a secret shared by its agents: export "
	       "RLAUNCH_TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n') before srun "
	       "(srun passes it on), or pass --token-file FILE; --insecure runs without one on a "
	       "network you trust");
	return -EINVAL;
}

static int node_address(struct agent *a)
{
	char err[512];
	struct rl_iface_filter f;
	int rc;

	if (a->o->node_addr) {
		if (rl_addr_parse(a->o->node_addr, &a->self.addr) < 0) {
			rl_log("invalid --node-addr '%s': expected a numeric IPv4 or IPv6 address",
			       a->o->node_addr);
			return -EINVAL;
		}
		if (rl_iface_of_addr(&a->self.addr, a->ifname, sizeof(a->ifname)) < 0)
			rl_warn("--node-addr %s is not an address of this machine", a->o->node_addr);
		return 0;
	}
	if (a->boot.nodes <= 1 && a->boot.kind != RL_RDZV_PMIX) {
		rl_addr_parse("127.0.0.1", &a->self.addr);
		return 0;
	}
	rc = rl_iface_filter_parse(&f, a->o->iface ? a->o->iface : RL_DEFAULT_IFACE_FILTER, err,
				   sizeof(err));
	if (rc == 0)
		rc = rl_node_addr_pick(&f, &a->self.addr, a->ifname, sizeof(a->ifname), err, sizeof(err));
	rl_iface_filter_release(&f);
	if (rc < 0) {
		rl_log("%s", err);
		return -EINVAL;
	}
	return 0;
}

static int resolve(const char *host, int port, struct sockaddr_storage *out, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char service[16];
	int rc;

	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
		rl_errbuf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(rc));
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static int start_member(struct agent *a, const struct rl_agent_ops *ops,
			const struct sockaddr_storage *ep, const char *name, bool busy_here)
{
	struct rl_member_params mp = {
		.loop = a->loop, .secret = &a->secret, .endpoint = *ep,
		.rdzv_timeout_s = a->o->rdzv_timeout_s, .self = a->self, .ops = *ops,
		.endpoint_busy_here = busy_here,
	};

	snprintf(mp.endpoint_name, sizeof(mp.endpoint_name), "%s", name);
	if (rl_member_start(&a->member, &mp) < 0)
		return RL_EXIT_SYSTEM;
	a->events = rl_member_job_events(a->member);
	return 0;
}

/* A bound, not yet listening socket on every address; its port goes into
 * this node's info in case this node becomes the coordinator. */
static int bind_any(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	sa.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int start_pmix(struct agent *a, struct rl_coord_params *cp)
{
	struct rl_pmix_result res;
	char err[512], name[RL_ADDR_STRLEN + 8], addr[RL_ADDR_STRLEN];
	struct sockaddr_storage ep;
	int fd, rank, rc;

	fd = bind_any(&a->self.coord_port);
	if (fd < 0) {
		rl_log("cannot open the coordinator's socket: %s", strerror(-fd));
		return RL_EXIT_SYSTEM;
	}
	if (rl_pmix_exchange(&a->self, &a->secret, a->o->rdzv_timeout_s, &res, err, sizeof(err)) < 0) {
		rl_log("%s", err);
		close(fd);
		free(res.nodes);
		return RL_EXIT_RENDEZVOUS;
	}
	if (a->o->nodes_given && (size_t)a->o->nodes != res.count) {
		rl_log("--nodes %d does not match the %zu agents PMIx started", a->o->nodes, res.count);
		close(fd);
		free(res.nodes);
		return RL_EXIT_USAGE;
	}
	/* every agent sorts the same infos the same way: node 0 serves */
	if (rl_roster_build(res.nodes, res.count, res.count, err, sizeof(err)) < 0) {
		rl_log("%s", err);
		close(fd);
		free(res.nodes);
		return RL_EXIT_USAGE;
	}
	rank = rl_roster_find(res.nodes, res.count, &a->self.addr);
	cp->nodes = res.count;
	a->self.nodes = (uint32_t)res.count;
	cp->self.nodes = (uint32_t)res.count;
	cp->secret = &a->secret;
	if (rank == 0) {
		cp->listen_fd = fd;
		rc = rl_coord_start(&a->coord, cp); /* owns fd from here, also on failure */
		free(res.nodes);
		if (rc < 0) {
			rl_log("cannot serve the rendezvous: %s", uv_strerror(rc));
			return RL_EXIT_RENDEZVOUS;
		}
		a->events = rl_coord_job_events(a->coord);
		return 0;
	}
	close(fd);
	rl_addr_format(&res.nodes[0].addr, addr, sizeof(addr));
	snprintf(name, sizeof(name), "%s:%u", addr, res.nodes[0].coord_port);
	rc = resolve(addr, res.nodes[0].coord_port, &ep, err, sizeof(err));
	free(res.nodes);
	if (rc < 0) {
		rl_log("%s", err);
		return RL_EXIT_RENDEZVOUS;
	}
	return start_member(a, &cp->ops, &ep, name, false);
}

static int start_controller(struct agent *a)
{
	struct rl_agent_ops ops = {
		.ctx = a, .roster = op_roster, .abort = op_abort,
		.deliver_signal = op_deliver_signal, .restart = op_restart, .final = op_final,
		.to_ranks = op_to_ranks,
	};
	struct rl_coord_params cp = {
		.loop = a->loop, .secret = &a->secret, .nodes = (size_t)a->boot.nodes,
		.rdzv_timeout_s = a->o->rdzv_timeout_s, .max_restarts = a->o->max_restarts,
		.master_port = a->o->master_port, .run_id = a->run_id, .self = a->self, .ops = ops,
	};
	cp.check.enabled = a->o->check != RL_CHECK_NONE;
	cp.check.setup.backend = a->check_backend;
	cp.check.setup.provider = a->check_provider;
	cp.check.setup.bytes = a->check_bytes;
	cp.check.setup.iters = a->o->check_iters;
	cp.check.setup.min_busbw_gbps = a->o->check_min_busbw;
	cp.check.timeout_s = a->o->check_timeout_s;
	cp.check.report_file = a->o->report_file;
	struct sockaddr_storage ep;
	char err[512];
	int rc;

	cp.listen_fd = -1;
	if (a->boot.kind == RL_RDZV_PMIX)
		return start_pmix(a, &cp);
	if (a->boot.nodes <= 1) {
		rc = rl_coord_start(&a->coord, &cp);
		goto started;
	}
	if (a->boot.kind == RL_RDZV_SLURM && a->boot.serve) {
		/* every address, IPv6 and IPv4 (dual stack), else IPv4 alone */
		struct sockaddr_in6 any6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)a->boot.port),
					     .sin6_addr = IN6ADDR_ANY_INIT };
		struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons((uint16_t)a->boot.port) };
		any.sin_addr.s_addr = htonl(INADDR_ANY);
		cp.listen_addr = (const struct sockaddr *)&any6;
		rc = rl_coord_start(&a->coord, &cp);
		if (rc == UV_EAFNOSUPPORT || rc == UV_EADDRNOTAVAIL) {
			cp.listen_addr = (const struct sockaddr *)&any;
			rc = rl_coord_start(&a->coord, &cp);
		}
		if (rc < 0) {
			rl_log("cannot serve the rendezvous on port %d: %s (pick another with "
			       "--rdzv-endpoint :PORT)", a->boot.port, uv_strerror(rc));
			return RL_EXIT_RENDEZVOUS;
		}
		goto started;
	}
	if (resolve(a->boot.host, a->boot.port, &ep, err, sizeof(err)) < 0) {
		rl_log("%s", err);
		return RL_EXIT_RENDEZVOUS;
	}
	rc = 0;
	if (a->boot.try_serve) {
		cp.listen_addr = (const struct sockaddr *)&ep;
		rc = rl_coord_start(&a->coord, &cp);
		if (rc == 0)
			goto started;
		if (rc != UV_EADDRINUSE && rc != UV_EADDRNOTAVAIL) {
			rl_log("cannot serve the rendezvous on %s:%d: %s", a->boot.host, a->boot.port,
			       uv_strerror(rc));
			return RL_EXIT_RENDEZVOUS;
		}
	}
	{
		char name[300];
		snprintf(name, sizeof(name), "%s:%d", a->boot.host, a->boot.port);
		return start_member(a, &ops, &ep, name, rc == UV_EADDRINUSE);
	}
started:
	if (rc < 0)
		return RL_EXIT_SYSTEM;
	a->events = rl_coord_job_events(a->coord);
	return 0;
}

int rl_agent_run(const struct rl_options *o, char **envp)
{
	struct agent a;
	char err[512];
	int rc, port;

	memset(&a, 0, sizeof(a));
	a.o = o;
	a.envp = envp;
	/* preemption notices before the ranks exist must not kill the agent */
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	a.status = RL_EXIT_USAGE;
	if (rl_bootstrap_resolve(&a.boot, o, envp, err, sizeof(err)) < 0) {
		rl_log("%s", err);
		return RL_EXIT_USAGE;
	}
	if (rl_cuda_devices_parse(&a.cvd, rl_env_lookup(envp, "CUDA_VISIBLE_DEVICES"), err,
				  sizeof(err)) < 0) {
		rl_log("%s", err);
		goto out;
	}
	if (o->gpus_per_node < 0 || !a.cvd.set)
		a.machine_gpus = rl_node_gpu_count("/proc");
	a.net = o->net == RL_NET_AUTO ? rl_net_preset_detect("/sys") : o->net;
	gethostname(a.host, sizeof(a.host) - 1);
	default_run_id(&a);
	if (check_local_plan(&a) < 0 || load_secret(&a) < 0 || node_address(&a) < 0)
		goto out;
	if ((rc = check_command(&a)) != 0) {
		a.status = rc;
		goto out;
	}
	if (o->dry_run) {
		print_dry_run(&a);
		a.status = RL_EXIT_OK;
		goto out;
	}
	if (o->log_dir && (rc = mkdir_p(o->log_dir)) < 0) {
		rl_log("cannot use log directory '%s': %s", o->log_dir, strerror(-rc));
		goto out;
	}
	raise_fd_limit(a.plan.gpus_per_node, a.boot.nodes);
	if (o->check == RL_CHECK_NCCL || (o->check == RL_CHECK_AUTO && !a.plan.cpu_only)) {
		a.check_backend = "nccl";
		snprintf(a.check_provider, sizeof(a.check_provider), "%s",
			 o->nccl_lib ? o->nccl_lib : "libnccl.so.2");
		a.check_bytes = o->check_bytes ? o->check_bytes : 64L << 20;
		snprintf(a.check_spec, sizeof(a.check_spec), "nccl,%s,-,%ld,%d,%g,%d",
			 o->nccl_lib ? o->nccl_lib : "-", a.check_bytes, o->check_iters,
			 o->check_timeout_s, o->check_only ? 1 : 0);
	} else if (o->check != RL_CHECK_NONE) {
		char bind[RL_ADDR_STRLEN];
		const char *fi = rl_env_lookup(envp, "FI_PROVIDER");

		a.check_backend = "ofi";
		snprintf(a.check_provider, sizeof(a.check_provider), "%s",
			 o->ofi_provider ? o->ofi_provider : fi && *fi && !strchr(fi, ',') ? fi : "tcp");
		rl_addr_format(&a.self.addr, bind, sizeof(bind));
		a.check_bytes = o->check_bytes ? o->check_bytes : 8L << 20;
		snprintf(a.check_spec, sizeof(a.check_spec), "ofi,%s,%s,%ld,%d,%g,%d", a.check_provider,
			 bind, a.check_bytes, o->check_iters, o->check_timeout_s, o->check_only ? 1 : 0);
	}
	port = pick_free_port();
	if (o->master_port == 0 && port < 0) {
		rl_log("cannot find a free port for MASTER_PORT: %s", strerror(errno));
		a.status = RL_EXIT_SYSTEM;
		goto out;
	}
	snprintf(a.self.host, sizeof(a.self.host), "%s", a.host);
	a.self.pid = (uint32_t)getpid();
	a.self.nodes = (uint32_t)(a.boot.nodes > 0 ? a.boot.nodes : 0);
	a.self.port = (uint16_t)(port > 0 ? port : 0);
	if (rl_auth_init() < 0) {
		rl_log("cannot initialise libsodium");
		a.status = RL_EXIT_SYSTEM;
		goto out;
	}

	a.loop = uv_default_loop();
	if ((rc = rl_console_start(a.loop)) < 0)
		rl_warn("no console writer thread (%s): a console that stops reading will stall "
			"supervision", strerror(-rc));
	a.status = RL_EXIT_SYSTEM;
	rc = start_controller(&a);
	if (rc != 0) {
		a.status = rc;
		uv_run(a.loop, UV_RUN_NOWAIT);
		goto out_loop;
	}
	uv_run(a.loop, UV_RUN_DEFAULT);
out_loop:
	rl_console_stop();
	uv_loop_close(a.loop);
	rl_job_destroy(a.job);
	rl_coord_destroy(a.coord);
	rl_member_destroy(a.member);
	rl_pmix_finalize();
	rl_munge_close();
out:
	rl_plan_release(&a.plan);
	rl_cuda_devices_release(&a.cvd);
	return a.status;
}
