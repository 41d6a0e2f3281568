/* CUDA_VISIBLE_DEVICES as CUDA reads it: a comma-separated list of GPU
 * indices ("0,1,4") or UUIDs ("GPU-8d2f...", "MIG-..."). An empty value
 * means "no GPU". Unlike CUDA, which silently stops at the first bad entry,
 * rlaunch rejects the whole value: "0,,x" must not quietly become "0".
 */
#ifndef RLAUNCH_CUDA_DEVICES_H
#define RLAUNCH_CUDA_DEVICES_H

#include <stdbool.h>
#include <stddef.h>

#include "rlaunch/strv.h"

struct rl_cuda_devices {
	bool set;              /* the variable is present (possibly empty) */
	bool has_uuids;        /* at least one entry is a UUID */
	struct rl_strv entries; /* as written, in order */
};

/**
 * Parse value (NULL = variable unset). Returns 0, or -EINVAL with the
 * reason in err; devs must be released either way.
 */
int rl_cuda_devices_parse(struct rl_cuda_devices *devs, const char *value,
			  char *err, size_t errlen);
void rl_cuda_devices_release(struct rl_cuda_devices *devs);

static inline int rl_cuda_devices_count(const struct rl_cuda_devices *devs)
{
	return (int)devs->entries.n;
}

#endif
