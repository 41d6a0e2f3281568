/* What GPUs this node has, read from the driver's /proc files (cheap, no
 * library) with NVML as the fallback. proc_root / sys_root are "/proc" and
 * "/sys" outside tests.
 */
#ifndef RLAUNCH_NODE_GPUS_H
#define RLAUNCH_NODE_GPUS_H

#include <sched.h>

#include "rlaunch/strv.h"

/** Number of NVIDIA GPUs on this node; 0 when none can be found. */
int rl_node_gpu_count(const char *proc_root);

/** PCI bus ids ("0000:18:00.0") of the GPUs in nvidia-smi order (bus order). */
int rl_node_gpu_bus_ids(const char *proc_root, struct rl_strv *out);

/**
 * CPUs close to the GPU given as a CUDA_VISIBLE_DEVICES entry (index or
 * UUID): sysfs local_cpulist of its PCI device, else NVML.
 * Returns 0, or -ENOENT when nothing can tell.
 */
int rl_node_gpu_cpuset(const char *gpu, const char *proc_root, const char *sys_root,
		       cpu_set_t *set);

/** Parse a kernel cpulist ("0-3,8,10-11"). 0 or -EINVAL. */
int rl_cpulist_parse(const char *s, cpu_set_t *set);

#endif
