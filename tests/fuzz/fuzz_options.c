/* libFuzzer: any argv (NUL-separated words) through the option parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rlaunch/options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *argv[66], err[512];
	struct rl_options o;
	int argc = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = "rlaunch";
	for (char *p = buf; p < buf + size && argc < 64; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	rl_options_init(&o);
	rl_options_parse(&o, argc, argv, err, sizeof(err));
	rl_options_release(&o);
	free(buf);
	return 0;
}
