#include "rlaunch/command_path.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rlaunch/log.h"

static int check_file(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno == EACCES ? -EACCES : -ENOENT;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	return access(path, X_OK) == 0 ? 0 : -EACCES;
}

int rl_command_check(const char *cmd, const char *path_env)
{
	char full[PATH_MAX];
	const char *dir;
	int best = -ENOENT;

	if (!cmd || !*cmd)
		return -ENOENT;
	if (strchr(cmd, '/'))
		return check_file(cmd);
	if (!path_env)
		path_env = "/usr/local/bin:/bin:/usr/bin";
	for (dir = path_env;;) {
		const char *colon = strchr(dir, ':');
		size_t len = colon ? (size_t)(colon - dir) : strlen(dir);
		int rc;

		if (len == 0) /* empty entry: the current directory, as execvp does */
			rc = check_file(cmd);
		else if (len + strlen(cmd) + 2 <= sizeof(full)) {
			snprintf(full, sizeof(full), "%.*s/%s", (int)len, dir, cmd);
			rc = check_file(full);
		} else
			rc = -ENOENT;
		if (rc == 0)
			return 0;
		if (rc != -ENOENT)
			best = rc; /* like execvp: report EACCES if that was all we found */
		if (!colon)
			return best;
		dir = colon + 1;
	}
}

const char *rl_command_check_reason(int rc)
{
	switch (rc) {
	case -ENOENT: return "command not found";
	case -EACCES: return "permission denied (not executable)";
	case -EISDIR: return "is a directory";
	default: return strerror(-rc);
	}
}

void rl_command_hint(const char *cmd)
{
	size_t len = strlen(cmd);
	if (len > 3 && strcmp(cmd + len - 3, ".py") == 0)
		rl_log("rlaunch runs COMMAND as given; for a Python script use "
		       "'rlaunch ... -- python3 %s'", cmd);
}
