#include "rlaunch/node_gpus.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlaunch/nvml.h"
#include "rlaunch/parse.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int rl_node_gpu_bus_ids(const char *proc_root, struct rl_strv *out)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/driver/nvidia/gpus", proc_root);
	dir = opendir(path);
	if (!dir)
		return -ENOENT;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		if (rl_strv_push(out, de->d_name) < 0) {
			closedir(dir);
			return -ENOMEM;
		}
	}
	closedir(dir);
	/* fixed-width lowercase hex: string order is PCI bus order */
	qsort(out->v, out->n, sizeof(char *), cmp_str);
	return 0;
}

int rl_node_gpu_count(const char *proc_root)
{
	struct rl_strv ids;
	int n = 0;

	if (rl_strv_init(&ids) == 0 && rl_node_gpu_bus_ids(proc_root, &ids) == 0)
		n = (int)ids.n;
	rl_strv_release(&ids);
	if (n == 0 && rl_nvml_device_count(&n) < 0)
		n = 0;
	return n;
}

int rl_cpulist_parse(const char *s, cpu_set_t *set)
{
	char buf[4096];
	size_t len = strlen(s);
	uint8_t *bits;
	int rc = 0;

	while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	bits = calloc(CPU_SETSIZE / 8, 1);
	if (!bits)
		return -ENOMEM;
	if (rl_parse_index_list(buf, bits, CPU_SETSIZE < 1024 ? CPU_SETSIZE : 1024) < 0) {
		rc = -EINVAL;
		goto out;
	}
	CPU_ZERO(set);
	for (unsigned i = 0; i < 1024 && i < CPU_SETSIZE; i++)
		if (rl_bit_test(bits, i))
			CPU_SET(i, set);
out:
	free(bits);
	return rc;
}

static int sysfs_cpuset(const char *gpu, const char *proc_root, const char *sys_root,
			cpu_set_t *set)
{
	struct rl_strv ids;
	char path[PATH_MAX], line[4096];
	long idx;
	FILE *f;
	int rc = -ENOENT;

	if (rl_parse_long(gpu, 0, 65535, &idx) < 0)
		return -ENOENT; /* a UUID: only NVML can map it */
	if (rl_strv_init(&ids) < 0)
		return -ENOMEM;
	if (rl_node_gpu_bus_ids(proc_root, &ids) < 0 || (size_t)idx >= ids.n)
		goto out;
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/local_cpulist", sys_root,
		 ids.v[idx]);
	f = fopen(path, "re");
	if (!f)
		goto out;
	if (fgets(line, sizeof(line), f))
		rc = rl_cpulist_parse(line, set);
	fclose(f);
out:
	rl_strv_release(&ids);
	return rc;
}

int rl_node_gpu_cpuset(const char *gpu, const char *proc_root, const char *sys_root,
		       cpu_set_t *set)
{
	if (sysfs_cpuset(gpu, proc_root, sys_root, set) == 0)
		return 0;
	return rl_nvml_cpu_affinity(gpu, set) == 0 ? 0 : -ENOENT;
}
