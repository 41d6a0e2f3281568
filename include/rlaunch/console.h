/* The agent's console (its stdout and stderr), written by a thread of its
 * own, so that a console that stops reading (a terminal paused with Ctrl-S,
 * `rlaunch | less` left alone, a wedged srun) never stalls the event loop:
 * heartbeats, signals and the reaping of ranks go on.
 *
 * Writes from the loop thread are copied into one queue for both fds, so
 * rank lines and the agent's own messages (rl_log, routed here while the
 * console runs) keep their order. The writer thread does blocking writes,
 * as before, and never makes the shared stdout non-blocking. Above
 * RL_CONSOLE_HIGH_WATER queued bytes the console is congested: the readers
 * of rank output pause (rl_console_congested), so ranks that print block in
 * write(2) as they would on a terminal of their own; once the queue is
 * below RL_CONSOLE_LOW_WATER, the relief callback runs on the loop.
 *
 * One console per process; it is started and stopped on the loop thread.
 */
#ifndef RLAUNCH_CONSOLE_H
#define RLAUNCH_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#define RL_CONSOLE_HIGH_WATER (1u << 20)
#define RL_CONSOLE_LOW_WATER (256u << 10)
/* At exit: how long the queue may make no progress before it is dropped */
#define RL_CONSOLE_EXIT_STALL_S 10

/** Start the writer thread; rl_log goes through it from now on. The
 * console's handle does not keep the loop alive. 0 or a negative errno
 * (then writes stay direct, as without a console). */
int rl_console_start(uv_loop_t *loop);

/** Queue len bytes for fd (1 or 2). Written directly when no console runs. */
void rl_console_write(int fd, const char *buf, size_t len);

/** More than the high-water mark queued: stop reading rank output. */
bool rl_console_congested(void);

/** fn(ctx) runs on the loop each time the queue falls below the low-water
 * mark after congestion. One listener; NULL removes it. */
void rl_console_on_relief(void (*fn)(void *ctx), void *ctx);

/**
 * Write out what is queued, waiting as long as the console makes progress
 * (RL_CONSOLE_EXIT_STALL_S without a byte written gives it up: the rest is
 * dropped, and so is everything written later, which would block the same
 * way), stop the thread and close the handle (runs the loop once, without
 * blocking, for that). Otherwise later writes go directly to the fd.
 */
void rl_console_stop(void);

#endif
