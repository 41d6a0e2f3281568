/* rlaunch: the agent (options -> agent.h), or the worker stage of a rank
 * (worker_stage.h) when started as "rlaunch __rlaunch_worker ...".
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rlaunch/agent.h"
#include "rlaunch/exit_codes.h"
#include "rlaunch/log.h"
#include "rlaunch/options.h"
#include "rlaunch/worker_stage.h"

#ifndef RLAUNCH_VERSION
#define RLAUNCH_VERSION "0.0.0"
#endif

extern char **environ;

/* Started with stdin, stdout or stderr closed? Put /dev/null there, so no
 * descriptor rlaunch opens (libuv's, a rank's pipe) takes their place. */
static void ensure_std_fds(void)
{
	int fd;
	do
		fd = open("/dev/null", O_RDWR);
	while (fd >= 0 && fd <= STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

int main(int argc, char **argv)
{
	struct rl_options opts;
	char err[512] = "";
	int status;

	ensure_std_fds();
	if (argc > 1 && strcmp(argv[1], RL_WORKER_STAGE_ARG) == 0)
		return rl_worker_stage_main(argc, argv);

	rl_options_init(&opts);
	if (rl_options_parse(&opts, argc, argv, err, sizeof(err)) < 0) {
		rl_log("%s", err);
		rl_options_release(&opts);
		return RL_EXIT_USAGE;
	}
	switch (opts.action) {
	case RL_ACTION_HELP:
		fputs(rl_usage_text, stdout);
		status = RL_EXIT_OK;
		break;
	case RL_ACTION_VERSION:
		printf("rlaunch %s\n", RLAUNCH_VERSION);
		status = RL_EXIT_OK;
		break;
	default:
		status = rl_agent_run(&opts, environ);
	}
	rl_options_release(&opts);
	return status;
}
