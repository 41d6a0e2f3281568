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

size_t rl_reaper_sweep(pid_t self, const pid_t *exclude, size_t nexclude,
		       pid_t *live, size_t max)
{
	struct dirent *de;
	size_t found = 0;
	DIR *proc = opendir("/proc");

	if (!proc)
		return 0;
	while ((de = readdir(proc))) {
		pid_t pid, ppid;
		char state;
		size_t i;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (read_stat(de->d_name, &ppid, &state) < 0 || ppid != self)
			continue;
		pid = (pid_t)atol(de->d_name);
		for (i = 0; i < nexclude && exclude[i] != pid; i++)
			;
		if (i < nexclude)
			continue;
		if (state == 'Z' || state == 'X') {
			(void)waitpid(pid, NULL, WNOHANG);
			continue;
		}
		if (found < max)
			live[found] = pid;
		found++;
	}
	closedir(proc);
	return found;
}

int rl_signal_group(pid_t pgid, int sig)
{
	if (pgid <= 0)
		return 0;
	if (kill(-pgid, sig) == 0)
		return 1;
	return errno == ESRCH ? 0 : 1;
}
