#include "rlaunch/rank_output.h"

#include <stdlib.h>
#include <string.h>

#include "rlaunch/console.h"
#include "rlaunch/write_all.h"

/* s->line holds prefix + text. The log gets the bytes as written; the
 * console always gets whole lines, so a long line split in pieces still
 * shows one prefix per console line. */
static void flush_line(struct rl_output_stream *s, bool end_of_line)
{
	char *text = s->line + s->prefix_len;
	size_t len = s->line_len;

	text[len] = '\n';
	if (s->log_fd >= 0)
		rl_write_all(s->log_fd, text, len + (end_of_line ? 1 : 0));
	if (s->console_fd >= 0)
		rl_console_write(s->console_fd, s->line, s->prefix_len + len + 1);
	s->line_len = 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char scratch[65536];
	(void)h;
	(void)suggested;
	/* one loop thread, and on_read consumes the buffer before returning */
	*buf = uv_buf_init(scratch, sizeof(scratch));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct rl_output_stream *s = stream->data;

	if (nread < 0) {
		if (s->line_len)
			flush_line(s, true); /* a last line without newline gets one */
		s->eof = true;
		uv_read_stop(stream);
		s->reading = false;
		if (s->on_eof)
			s->on_eof(s);
		return;
	}
	for (ssize_t i = 0; i < nread; i++) {
		char c = buf->base[i];
		if (c == '\n') {
			flush_line(s, true);
			continue;
		}
		s->line[s->prefix_len + s->line_len++] = c;
		if (s->line_len == RL_OUTPUT_LINE_MAX - 1)
			flush_line(s, false);
	}
	/* backpressure: the rank blocks in write(2) until the console catches up */
	if (s->console_fd >= 0 && !s->draining && rl_console_congested()) {
		uv_read_stop(stream);
		s->reading = false;
		s->paused = true;
	}
}

int rl_output_stream_init(uv_loop_t *loop, struct rl_output_stream *s, int console_fd,
			  int log_fd, const char *prefix)
{
	memset(s, 0, sizeof(*s));
	s->console_fd = console_fd;
	s->log_fd = log_fd;
	s->prefix_len = strlen(prefix);
	if (s->prefix_len >= sizeof(s->prefix))
		return UV_EINVAL;
	memcpy(s->prefix, prefix, s->prefix_len);
	s->line = malloc(s->prefix_len + RL_OUTPUT_LINE_MAX + 1);
	if (!s->line)
		return UV_ENOMEM;
	memcpy(s->line, prefix, s->prefix_len);
	s->pipe.data = s;
	return uv_pipe_init(loop, &s->pipe, 0);
}

int rl_output_stream_start(struct rl_output_stream *s)
{
	int rc = uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_read);
	s->reading = rc == 0;
	return rc;
}

void rl_output_stream_resume(struct rl_output_stream *s)
{
	if (!s->paused || s->eof || uv_is_closing((uv_handle_t *)&s->pipe))
		return;
	s->paused = false;
	rl_output_stream_start(s);
}

void rl_output_stream_drain(struct rl_output_stream *s)
{
	s->draining = true;
	rl_output_stream_resume(s);
}

static void on_close(uv_handle_t *h)
{
	struct rl_output_stream *s = h->data;
	free(s->line);
	s->line = NULL;
	s->closed = true;
	if (s->on_closed)
		s->on_closed(s);
}

void rl_output_stream_close(struct rl_output_stream *s)
{
	if (s->line_len)
		flush_line(s, true);
	if (!uv_is_closing((uv_handle_t *)&s->pipe))
		uv_close((uv_handle_t *)&s->pipe, on_close);
}
