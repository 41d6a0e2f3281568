/* Network presets: the NCCL / libfabric variables a fabric needs.
 *
 * Kept current with AWS guidance: with libfabric >= 1.18 and aws-ofi-nccl
 * >= 1.7, FI_EFA_USE_DEVICE_RDMA, NCCL_PROTO=simple and FI_EFA_FORK_SAFE /
 * RDMAV_FORK_SAFE are set or made unneeded by the plugin itself, so the efa
 * preset no longer sets them (set them with --env on older stacks).
 */
#ifndef RLAUNCH_NET_PRESET_H
#define RLAUNCH_NET_PRESET_H

#include "rlaunch/options.h"
#include "rlaunch/strv.h"

/**
 * What --net auto means on this machine: efa when an EFA device is present
 * under sysfs_root/class/infiniband, ib when another RDMA device is, else
 * none. sysfs_root is "/sys" outside tests.
 */
enum rl_net_preset rl_net_preset_detect(const char *sysfs_root);

/** Add the preset's variables to env, each only when not already set. */
int rl_net_preset_apply(struct rl_strv *env, enum rl_net_preset preset);

#endif
