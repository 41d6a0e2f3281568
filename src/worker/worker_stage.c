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
#include <sys/resource.h>
#include <unistd.h>

#include "rlaunch/exit_codes.h"
#include "rlaunch/node_gpus.h"
#include "rlaunch/parse.h"

int rl_worker_stage_argv(struct rl_strv *out, pid_t agent, const char *gpu,
			 bool affinity, char *const *command)
{
	char pid[24];

	snprintf(pid, sizeof(pid), "%ld", (long)agent);
	if (rl_strv_init(out) < 0 ||
	    rl_strv_push(out, "rlaunch") < 0 || rl_strv_push(out, RL_WORKER_STAGE_ARG) < 0 ||
	    rl_strv_push(out, pid) < 0 || rl_strv_push(out, *gpu ? gpu : "-") < 0 ||
	    rl_strv_push(out, affinity ? "1" : "0") < 0 || rl_strv_push(out, "--") < 0 ||
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
	struct rl_exec_failure msg = { RL_EXEC_FAILURE_MAGIC, error };
	ssize_t w;

	do
		w = write(RL_WORKER_CONTROL_FD, &msg, sizeof(msg));
	while (w < 0 && errno == EINTR);
}

int rl_worker_stage_main(int argc, char **argv)
{
	long agent;
	sigset_t none;

	if (argc < 7 || strcmp(argv[5], "--") != 0 ||
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

	(void)fcntl(RL_WORKER_CONTROL_FD, F_SETFD, FD_CLOEXEC);
	close_inherited_fds();
	execvp(argv[6], &argv[6]);
	int error = errno;
	report_exec_failure(error);
	return rl_exec_failure_status(error);
}
