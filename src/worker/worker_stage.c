#include "rlaunch/worker_stage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <unistd.h>

#include "rlaunch/check.h"
#include "rlaunch/exit_codes.h"
#include "rlaunch/node_gpus.h"
#include "rlaunch/parse.h"

int rl_worker_stage_argv(struct rl_strv *out, pid_t agent, const char *gpu,
			 bool affinity, const char *check, char *const *command)
{
	char pid[24];

	snprintf(pid, sizeof(pid), "%ld", (long)agent);
	if (rl_strv_init(out) < 0 ||
	    rl_strv_push(out, "rlaunch") < 0 || rl_strv_push(out, RL_WORKER_STAGE_ARG) < 0 ||
	    rl_strv_push(out, pid) < 0 || rl_strv_push(out, *gpu ? gpu : "-") < 0 ||
	    rl_strv_push(out, affinity ? "1" : "0") < 0 ||
	    rl_strv_push(out, check && *check ? check : "-") < 0 || rl_strv_push(out, "--") < 0 ||
	    rl_strv_push_all(out, command) < 0) {
		rl_strv_release(out);
		return -ENOMEM;
	}
	return 0;
}

int rl_exec_failure_status(int error)
{
	return error == ENOENT || error == ENOTDIR ? RL_EXIT_NOT_FOUND : RL_EXIT_NOT_EXECUTABLE;
}

/* Narrow the inherited mask (Slurm's binding, a cgroup) to the GPU's CPUs;
 * an empty intersection means the caller knows better: keep the mask. */
static void pin_near_gpu(const char *gpu)
{
	cpu_set_t near, allowed, both;

	if (rl_node_gpu_cpuset(gpu, "/proc", "/sys", &near) < 0)
		return;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return;
	CPU_AND(&both, &near, &allowed);
	if (CPU_COUNT(&both) > 0)
		(void)sched_setaffinity(0, sizeof(both), &both);
}

/* Whatever rlaunch inherited without close-on-exec (a shell's "exec 7>x", a
 * scheduler's sockets) must not reach the command: keep 0-2 and the control
 * pipe, which closes itself at exec. close_range is missing before Linux 5.9
 * (ENOSYS) and some seccomp profiles refuse it (EPERM): walk /proc then, and
 * without /proc every descriptor up to the limit. */
static void close_inherited_fds(void)
{
	const int first = RL_WORKER_CONTROL_FD + 1;
	struct rlimit lim;
	struct dirent *e;
	DIR *dir;

	if (close_range((unsigned)first, ~0U, 0) == 0)
		return;
	dir = opendir("/proc/self/fd");
	if (dir) {
		while ((e = readdir(dir)) != NULL) {
			long fd;

			if (rl_parse_long(e->d_name, first, 0x7fffffff, &fd) == 0 && fd != dirfd(dir))
				close((int)fd);
		}
		closedir(dir);
		return;
	}
	if (getrlimit(RLIMIT_NOFILE, &lim) < 0 || lim.rlim_cur == RLIM_INFINITY ||
	    lim.rlim_cur > 1 << 20)
		lim.rlim_cur = 1 << 20;
	for (rlim_t fd = (rlim_t)first; fd < lim.rlim_cur; fd++)
		close((int)fd);
}

static void report_exec_failure(int error)
{
	struct rl_wbuf w;

	rl_wbuf_init(&w);
	rl_wire_put_u32(&w, RL_MSG_EXEC_FAILED, (uint32_t)error);
	rl_ctl_send(RL_WORKER_CONTROL_FD, &w);
	rl_wbuf_release(&w);
}

/* "ofi,PROVIDER,BIND,BYTES,ITERS,TIMEOUT,ONLY" (see rl_worker_check_spec). */
static int parse_check_spec(const char *spec, struct rl_check_params *p, bool *only)
{
	char buf[512], *field[7], *save = NULL;
	long bytes, iters, flag;
	double timeout;
	int n = 0;

	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, spec, strlen(spec) + 1);
	for (char *t = strtok_r(buf, ",", &save); t && n < 7; t = strtok_r(NULL, ",", &save))
		field[n++] = t;
	if (n != 7 || (strcmp(field[0], "ofi") != 0 && strcmp(field[0], "nccl") != 0) ||
	    rl_parse_long(field[3], 4, 1L << 34, &bytes) < 0 ||
	    rl_parse_long(field[4], 1, 100000, &iters) < 0 ||
	    rl_parse_seconds(field[5], 86400, &timeout) < 0 || rl_parse_long(field[6], 0, 1, &flag) < 0)
		return -EINVAL;
	if (strcmp(field[0], "nccl") == 0) {
		p->backend = RL_BACKEND_NCCL;
		p->nccl_lib = strcmp(field[1], "-") ? strdup(field[1]) : NULL;
	} else {
		p->backend = RL_BACKEND_OFI;
		p->provider = strdup(field[1]);
		p->bind_addr = strcmp(field[2], "-") ? strdup(field[2]) : NULL;
	}
	p->bytes = bytes;
	p->iters = (int)iters;
	p->timeout_s = timeout;
	*only = flag == 1;
	return 0;
}

static int env_int(const char *name, int fallback)
{
	const char *v = getenv(name);
	long n;
	return v && rl_parse_long(v, 0, 0x7fffffff, &n) == 0 ? (int)n : fallback;
}

/* The check in a child (nothing of it survives into COMMAND), then the
 * job-wide verdict. Returns 0 to go on, or the exit status. */
static int health_check(const char *spec)
{
	extern char **environ;
	struct rl_check_params p = { 0 };
	struct rl_wire_reader reader;
	bool only = false;
	pid_t child, parent;
	int status, rc = RL_EXIT_CHECK_FAILED;
	double waited = 0;

	if (parse_check_spec(spec, &p, &only) < 0) {
		fprintf(stderr, "rlaunch: invalid health check settings '%s'\n", spec);
		return RL_EXIT_USAGE;
	}
	p.rank = env_int("RANK", 0);
	p.world = env_int("WORLD_SIZE", 1);
	p.local_world = env_int("LOCAL_WORLD_SIZE", 1);
	p.node_rank = env_int("NODE_RANK", 0);
	/* the GPU this rank trains on: its only visible one, else LOCAL_RANK
	 * (physical id under reset, index under keep) */
	{
		const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
		p.device = cvd && *cvd && !strchr(cvd, ',') ? 0 : env_int("LOCAL_RANK", 0);
	}
	p.envp = environ;
	parent = getpid();
	child = fork();
	if (child < 0) {
		rc = RL_EXIT_SYSTEM;
		goto out;
	}
	if (child == 0) {
		/* the check dies with its worker stage (which dies with the agent),
		 * so a killed agent leaves no check spinning on a dead ring */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(RL_EXIT_SYSTEM);
		_exit(rl_check_run(RL_WORKER_CONTROL_FD, &p));
	}
	/* both phases and the exchange, with room to spare; then it is stuck */
	while (waitpid(child, &status, WNOHANG) == 0) {
		if (waited > 2 * p.timeout_s + 30) {
			kill(child, SIGKILL);
			waitpid(child, &status, 0);
			break;
		}
		usleep(20000);
		waited += 0.02;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == RL_CHECK_SAW_NOGO)
		goto out;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		/* it may not have said so itself: the coordinator keeps the first word */
		struct rl_check_result res = { .rank = p.rank, .status = RL_CHECK_COMM_FAILED,
					       .bad_index = -1 };
		struct rl_wbuf w;

		if (WIFSIGNALED(status))
			snprintf(res.message, sizeof(res.message), "the check process died of signal %d%s",
				 WTERMSIG(status), WTERMSIG(status) == SIGKILL ? " (stuck past the timeout?)" : "");
		else
			snprintf(res.message, sizeof(res.message), "the check process exited with %d",
				 WEXITSTATUS(status));
		rl_wbuf_init(&w);
		rl_wire_put_check_results(&w, &res, 1);
		rl_ctl_send(RL_WORKER_CONTROL_FD, &w);
		rl_wbuf_release(&w);
	}
	rl_wire_reader_init(&reader, RL_WIRE_MAX_FRAME);
	for (;;) {
		uint8_t type;
		const uint8_t *payload;
		size_t len;
		uint32_t go;

		if (rl_ctl_recv(RL_WORKER_CONTROL_FD, &reader, -1, &type, &payload, &len) < 0)
			break;
		if (type == RL_MSG_CHECK_VERDICT && rl_wire_get_u32(payload, len, &go) == 0) {
			rc = go ? (only ? RL_CHECK_ONLY_DONE : 0) : RL_EXIT_CHECK_FAILED;
			break;
		}
	}
	rl_wire_reader_release(&reader);
out:
	free((char *)p.provider);
	free((char *)p.bind_addr);
	free((char *)p.nccl_lib);
	return rc;
}

int rl_worker_stage_main(int argc, char **argv)
{
	long agent;
	sigset_t none;

	if (argc < 8 || strcmp(argv[6], "--") != 0 ||
	    rl_parse_long(argv[2], 1, 0x7fffffff, &agent) < 0) {
		fprintf(stderr, "rlaunch: the worker stage is started by rlaunch itself, not by hand\n");
		return RL_EXIT_USAGE;
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != (pid_t)agent)
		_exit(RL_EXIT_SYSTEM); /* agent already gone: start nothing */
	if (getpgrp() != getpid() && setpgid(0, 0) < 0 && setsid() < 0)
		_exit(RL_EXIT_SYSTEM);

	/* the command starts with default signal handling, whatever the agent had */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);

	if (strcmp(argv[4], "1") == 0 && strcmp(argv[3], "-") != 0)
		pin_near_gpu(argv[3]);

	if (strcmp(argv[5], "-") != 0) {
		int rc = health_check(argv[5]);
		if (rc == RL_CHECK_ONLY_DONE)
			return 0;
		if (rc != 0)
			return rc;
	}
	(void)fcntl(RL_WORKER_CONTROL_FD, F_SETFD, FD_CLOEXEC);
	close_inherited_fds();
	execvp(argv[7], &argv[7]);
	int error = errno;
	report_exec_failure(error);
	return rl_exec_failure_status(error);
}
