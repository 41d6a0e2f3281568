/* The floor for starting N processes: fork+exec N copies of a command and
 * wait for all of them, nothing else. bench/startup.py compares launchers to
 * this.   usage: floor N COMMAND [ARGS...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[1]) : 0;
	if (n <= 0) {
		fprintf(stderr, "usage: floor N COMMAND [ARGS...]\n");
		return 2;
	}
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			execvp(argv[2], &argv[2]);
			_exit(127);
		}
	}
	while (wait(NULL) > 0)
		;
	return 0;
}
