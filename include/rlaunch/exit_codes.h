/* rlaunch exit codes: the contract scripts depend on (see README "Exit codes").
 *
 * Besides these, rlaunch exits with the status of the first rank that failed:
 * its exit code, or 128 + signal number when it was killed by a signal, the
 * way a shell reports it. When rlaunch itself is stopped by a signal it
 * forwarded (TERM, INT, HUP, QUIT) it exits with 128 + that signal.
 */
#ifndef RLAUNCH_EXIT_CODES_H
#define RLAUNCH_EXIT_CODES_H

enum rl_exit_code {
	RL_EXIT_OK = 0,
	RL_EXIT_USAGE = 2,        /* bad flag, value or environment variable; nothing started */
	RL_EXIT_SYSTEM = 71,      /* the OS refused something rlaunch needs (sysexits EX_OSERR) */
	RL_EXIT_CHECK_FAILED = 78, /* the health check said NO-GO; COMMAND never started */
	RL_EXIT_NOT_EXECUTABLE = 126, /* command found but cannot be executed */
	RL_EXIT_NOT_FOUND = 127,  /* command not found */
};

#endif
