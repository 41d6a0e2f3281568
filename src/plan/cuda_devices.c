#include "rlaunch/cuda_devices.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "rlaunch/log.h"
#include "rlaunch/parse.h"

/* "GPU-<uuid>" or "MIG-<uuid>" / legacy "MIG-GPU-<uuid>/<gi>/<ci>". */
static bool is_uuid(const char *e)
{
	const char *p;
	size_t hex = 0;

	if (strncmp(e, "GPU-", 4) != 0 && strncmp(e, "MIG-", 4) != 0)
		return false;
	p = e + 4;
	if (strncmp(e, "MIG-GPU-", 8) == 0)
		p = e + 8;
	for (; *p; p++) {
		if (isxdigit((unsigned char)*p))
			hex++;
		else if (*p != '-' && *p != '/')
			return false;
	}
	return hex >= 8;
}

/* Indices compare by value ("0" and "00" are one GPU), UUIDs (id -1) as
 * text. An index and a UUID may name the same GPU too; only the driver knows. */
static bool same_gpu(const char *earlier, const char *item, long id)
{
	long prev;

	if (id < 0)
		return strcmp(earlier, item) == 0;
	return !is_uuid(earlier) && rl_parse_long(earlier, 0, 65535, &prev) == 0 && prev == id;
}

void rl_cuda_devices_release(struct rl_cuda_devices *devs)
{
	rl_strv_release(&devs->entries);
}

int rl_cuda_devices_parse(struct rl_cuda_devices *devs, const char *value,
			  char *err, size_t errlen)
{
	const char *p;

	memset(devs, 0, sizeof(*devs));
	if (rl_strv_init(&devs->entries) < 0)
		return -ENOMEM;
	if (!value)
		return 0;
	devs->set = true;
	if (!*value)
		return 0;

	for (p = value;;) {
		char item[128];
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		long id = -1; /* stays -1 for a UUID */

		if (len == 0) {
			rl_errbuf(err, errlen, "CUDA_VISIBLE_DEVICES='%s' has an empty entry", value);
			return -EINVAL;
		}
		if (len >= sizeof(item)) {
			rl_errbuf(err, errlen, "CUDA_VISIBLE_DEVICES='%.40s...' has an entry longer than %zu characters",
				  value, sizeof(item) - 1);
			return -EINVAL;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		if (is_uuid(item)) {
			devs->has_uuids = true;
		} else if (rl_parse_long(item, 0, 65535, &id) < 0) {
			rl_errbuf(err, errlen, "CUDA_VISIBLE_DEVICES='%s': '%s' is neither a GPU index "
				  "nor a GPU-/MIG- UUID", value, item);
			return -EINVAL;
		}
		for (size_t i = 0; i < devs->entries.n; i++) {
			if (same_gpu(devs->entries.v[i], item, id)) {
				rl_errbuf(err, errlen, "CUDA_VISIBLE_DEVICES='%s' lists the same GPU twice "
					  "('%s' and '%s')", value, devs->entries.v[i], item);
				return -EINVAL;
			}
		}
		if (rl_strv_push(&devs->entries, item) < 0)
			return -ENOMEM;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}
