/* NVML, dlopen'ed (libnvidia-ml.so.1) so rlaunch starts on machines without
 * the NVIDIA driver. Only the few calls rlaunch needs. Each function opens
 * and initialises NVML, does its work and shuts NVML down again; all return
 * 0 or a negative errno (-ENOENT when NVML or the device is not there).
 */
#ifndef RLAUNCH_NVML_H
#define RLAUNCH_NVML_H

#include <sched.h>

int rl_nvml_device_count(int *count);
/** CPUs NVML calls ideal for the GPU given as an index or a UUID. */
int rl_nvml_cpu_affinity(const char *gpu, cpu_set_t *set);

#endif
