/* libFuzzer: SLURM_STEP_NODELIST as Slurm (or anyone) sets it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rlaunch/hostlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), err[256];
	struct rl_strv out;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	rl_hostlist_expand(s, 4096, &out, err, sizeof(err));
	rl_strv_release(&out);
	free(s);
	return 0;
}
