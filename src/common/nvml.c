#include "rlaunch/nvml.h"

#include "rlaunch/dlopen_first.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef int nvml_return_t;          /* nvmlReturn_t: 0 is NVML_SUCCESS */
typedef struct nvml_device *nvml_device_t;

struct nvml_api {
	void *lib;
	nvml_return_t (*init)(void);
	nvml_return_t (*shutdown)(void);
	nvml_return_t (*count)(unsigned *);
	nvml_return_t (*by_index)(unsigned, nvml_device_t *);
	nvml_return_t (*by_uuid)(const char *, nvml_device_t *);
	nvml_return_t (*cpu_affinity)(nvml_device_t, unsigned, unsigned long *);
};

/* All symbols or nothing: a half-loaded table is never returned. */
static int nvml_open(struct nvml_api *api)
{
	static const char *const sonames[] = { "libnvidia-ml.so.1", "libnvidia-ml.so" };

	memset(api, 0, sizeof(*api));
	api->lib = rl_dlopen_first(sonames, sizeof(sonames) / sizeof(sonames[0]), RTLD_NOW | RTLD_LOCAL);
	if (!api->lib)
		return -ENOENT;
#define LOAD(field, name) \
	if (!(*(void **)&api->field = dlsym(api->lib, name))) goto teardown
	LOAD(init, "nvmlInit_v2");
	LOAD(shutdown, "nvmlShutdown");
	LOAD(count, "nvmlDeviceGetCount_v2");
	LOAD(by_index, "nvmlDeviceGetHandleByIndex_v2");
	LOAD(by_uuid, "nvmlDeviceGetHandleByUUID");
	LOAD(cpu_affinity, "nvmlDeviceGetCpuAffinity");
#undef LOAD
	if (api->init() != 0)
		goto teardown;
	return 0;
teardown:
	dlclose(api->lib);
	memset(api, 0, sizeof(*api));
	return -ENOENT;
}

static void nvml_close(struct nvml_api *api)
{
	api->shutdown();
	dlclose(api->lib);
}

int rl_nvml_device_count(int *count)
{
	struct nvml_api api;
	unsigned n = 0;
	int rc = nvml_open(&api);

	if (rc < 0)
		return rc;
	rc = api.count(&n) == 0 ? 0 : -EIO;
	if (rc == 0)
		*count = (int)n;
	nvml_close(&api);
	return rc;
}

int rl_nvml_cpu_affinity(const char *gpu, cpu_set_t *set)
{
	enum { WORDS = CPU_SETSIZE / (8 * sizeof(unsigned long)) };
	unsigned long mask[WORDS];
	struct nvml_api api;
	nvml_device_t dev;
	nvml_return_t r;
	char *end;
	unsigned long idx;
	int rc = nvml_open(&api);

	if (rc < 0)
		return rc;
	idx = strtoul(gpu, &end, 10);
	r = (*gpu && !*end) ? api.by_index((unsigned)idx, &dev) : api.by_uuid(gpu, &dev);
	if (r != 0) {
		rc = -ENOENT;
		goto out;
	}
	memset(mask, 0, sizeof(mask));
	if (api.cpu_affinity(dev, WORDS, mask) != 0) {
		rc = -EIO;
		goto out;
	}
	CPU_ZERO(set);
	for (unsigned cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (mask[cpu / (8 * sizeof(unsigned long))] & (1UL << (cpu % (8 * sizeof(unsigned long)))))
			CPU_SET(cpu, set);
out:
	nvml_close(&api);
	return rc;
}
