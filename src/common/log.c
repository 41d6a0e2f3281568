#include "rlaunch/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rlaunch/write_all.h"

static void (*sink)(const char *line, size_t len);

void rl_log_set_sink(void (*fn)(const char *line, size_t len))
{
	sink = fn;
}

/* One write(2) per line so lines from several processes never interleave. */
static void emit(const char *tag, const char *fmt, va_list ap)
{
	char line[4096];
	int n = snprintf(line, sizeof(line), "rlaunch: %s", tag);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);

	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	if (sink) {
		sink(line, len);
		return;
	}
	rl_write_all(STDERR_FILENO, line, len);
}

void rl_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit("", fmt, ap);
	va_end(ap);
}

void rl_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit("warning: ", fmt, ap);
	va_end(ap);
}

void rl_errbuf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}
