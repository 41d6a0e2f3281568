/* Diagnostics on stderr, one line each, git style: "rlaunch: <lowercase
 * message without final period>". Only the top of each stage prints; lower
 * layers return -errno or fill an error buffer instead.
 */
#ifndef RLAUNCH_LOG_H
#define RLAUNCH_LOG_H

#include <stddef.h>

#if defined(__GNUC__)
#define RL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RL_PRINTF(a, b)
#endif

/** "rlaunch: <msg>" — errors and notices. */
void rl_log(const char *fmt, ...) RL_PRINTF(1, 2);
/** "rlaunch: warning: <msg>". */
void rl_warn(const char *fmt, ...) RL_PRINTF(1, 2);

/** Send each finished line ("rlaunch: ...\n") to fn instead of stderr
 * (the agent's console, console.h); NULL: back to stderr. */
void rl_log_set_sink(void (*fn)(const char *line, size_t len));

/** snprintf into an error buffer; a NULL or zero-sized buffer is ignored. */
void rl_errbuf(char *buf, size_t len, const char *fmt, ...) RL_PRINTF(3, 4);

#endif
