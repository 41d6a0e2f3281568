/* One output stream (stdout or stderr) of one rank, read by the agent and
 * passed on line by line: to the console with a "[rankN]:" prefix (when the
 * rank is shown there) and, raw, to the rank's log file. Each line reaches
 * the console in one write(2), so lines of different ranks never mix. A
 * line longer than the buffer is passed on in pieces; a last line without
 * newline gets one at EOF.
 *
 * Console lines go through the agent's console writer (console.h). While it
 * is congested the stream stops reading after the current buffer (paused),
 * so the rank blocks in write(2); rl_output_stream_resume picks up again.
 * Once the rank's processes are gone, rl_output_stream_drain reads the rest
 * regardless: what is left in the pipe is bounded.
 */
#ifndef RLAUNCH_RANK_OUTPUT_H
#define RLAUNCH_RANK_OUTPUT_H

#include <stdbool.h>
#include <uv.h>

#define RL_OUTPUT_LINE_MAX 65536

struct rl_output_stream {
	uv_pipe_t pipe;
	int console_fd;        /* 1, 2, or -1 when not shown */
	int log_fd;            /* -1 when none; not owned */
	char prefix[32];
	size_t prefix_len;
	char *line;            /* partial line, RL_OUTPUT_LINE_MAX + prefix bytes */
	size_t line_len;
	bool reading;
	bool paused;           /* stopped reading while the console was congested */
	bool draining;         /* read to EOF whatever the console's state */
	bool eof;
	bool closed;
	void (*on_eof)(struct rl_output_stream *s);    /* optional */
	void (*on_closed)(struct rl_output_stream *s);
	void *data;
};

/** uv_pipe_init and buffers; prefix "" for none. 0 or a negative libuv error. */
int rl_output_stream_init(uv_loop_t *loop, struct rl_output_stream *s, int console_fd,
			  int log_fd, const char *prefix);
/** Start reading once the process was spawned with s->pipe as its stdio. */
int rl_output_stream_start(struct rl_output_stream *s);
/** Read again after a pause for a congested console (no-op otherwise). */
void rl_output_stream_resume(struct rl_output_stream *s);
/** Read to EOF, ignoring congestion from now on (the writers are gone). */
void rl_output_stream_drain(struct rl_output_stream *s);
/** Flush what is buffered and close; on_closed runs once the handle is closed. */
void rl_output_stream_close(struct rl_output_stream *s);

#endif
