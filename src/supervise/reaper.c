#include "rlaunch/reaper.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

int rl_reaper_become_subreaper(void)
{
	return prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 ? -errno : 0;
}

/* Parent pid and state from /proc/PID/stat; the comm field may hold ')'. */
static int read_stat(const char *pid, pid_t *ppid, char *state)
{
	char path[64], buf[512];
	FILE *f;
	char *close_paren;
	int ok = 0;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f) && (close_paren = strrchr(buf, ')'))) {
		long pp;
		if (sscanf(close_paren + 1, " %c %ld", state, &pp) == 2) {
			*ppid = (pid_t)pp;
			ok = 1;
		}
	}
	fclose(f);
	return ok ? 0 : -1;
}

struct sweep {
	pid_t self;
	const pid_t *exclude;
	size_t nexclude;
	pid_t *live;
	size_t max;
	size_t found;
};

/* One child of ours: reap it when it has exited, else count it as live. */
static void visit_child(struct sweep *sw, pid_t pid)
{
	char name[24], state;
	pid_t ppid;

	for (size_t i = 0; i < sw->nexclude; i++)
		if (sw->exclude[i] == pid)
			return;
	snprintf(name, sizeof(name), "%ld", (long)pid);
	if (read_stat(name, &ppid, &state) < 0 || ppid != sw->self)
		return;
	if (state == 'Z' || state == 'X') {
		(void)waitpid(pid, NULL, WNOHANG);
		return;
	}
	if (sw->found < sw->max)
		sw->live[sw->found] = pid;
	sw->found++;
}

/* Fast path: the kernel's list of each thread's children
 * (CONFIG_PROC_CHILDREN). Returns -1 when the kernel has no such file. */
static int sweep_children_files(struct sweep *sw)
{
	char path[64];
	struct dirent *de;
	DIR *tasks;

	snprintf(path, sizeof(path), "/proc/%ld/task", (long)sw->self);
	tasks = opendir(path);
	if (!tasks)
		return -1;
	while ((de = readdir(tasks))) {
		char file[320];
		long pid;
		FILE *f;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(file, sizeof(file), "/proc/%ld/task/%s/children", (long)sw->self, de->d_name);
		f = fopen(file, "re");
		if (!f) {
			closedir(tasks);
			return -1;
		}
		while (fscanf(f, "%ld", &pid) == 1)
			visit_child(sw, (pid_t)pid);
		fclose(f);
	}
	closedir(tasks);
	return 0;
}

/* Slow path: every process in /proc. */
static void sweep_all_processes(struct sweep *sw)
{
	struct dirent *de;
	DIR *proc = opendir("/proc");

	if (!proc)
		return;
	while ((de = readdir(proc)))
		if (isdigit((unsigned char)de->d_name[0]))
			visit_child(sw, (pid_t)atol(de->d_name));
	closedir(proc);
}

size_t rl_reaper_sweep(pid_t self, const pid_t *exclude, size_t nexclude,
		       pid_t *live, size_t max)
{
	struct sweep sw = { self, exclude, nexclude, live, max, 0 };

	if (sweep_children_files(&sw) < 0) {
		sw.found = 0;
		sweep_all_processes(&sw);
	}
	return sw.found;
}

int rl_signal_group(pid_t pgid, int sig)
{
	if (pgid <= 0)
		return 0;
	if (kill(-pgid, sig) == 0)
		return 1;
	return errno == ESRCH ? 0 : 1;
}
