/* node_gpus and net_preset against fake /proc and /sys trees made here. */
#include <sys/stat.h>
#include <unistd.h>

#include "rlaunch/net_preset.h"
#include "rlaunch/node_gpus.h"
#include "test.h"

static char root[64];

static void put(const char *rel, const char *content)
{
	char path[512], cmd[600];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	if (system(cmd) != 0)
		abort();
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	fputs(content, f);
	fclose(f);
}

static void test_cpulist(void)
{
	cpu_set_t s;
	ASSERT_EQ(rl_cpulist_parse("0-3,8,10-11\n", &s), 0);
	ASSERT_EQ(CPU_COUNT(&s), 7);
	ASSERT_TRUE(CPU_ISSET(3, &s) && CPU_ISSET(8, &s) && CPU_ISSET(11, &s));
	ASSERT_TRUE(!CPU_ISSET(4, &s));
	ASSERT_EQ(rl_cpulist_parse("", &s), -22);
	ASSERT_EQ(rl_cpulist_parse("0-", &s), -22);
	ASSERT_EQ(rl_cpulist_parse("a", &s), -22);
}

static void test_gpus_from_proc_and_sysfs(void)
{
	char proc[128], sys[128];
	struct rl_strv ids;
	cpu_set_t s;

	snprintf(proc, sizeof(proc), "%s/proc", root);
	snprintf(sys, sizeof(sys), "%s/sys", root);
	/* created out of order: the order must come from the bus id */
	put("proc/driver/nvidia/gpus/0000:b9:00.0/information", "Model: H100\n");
	put("proc/driver/nvidia/gpus/0000:18:00.0/information", "Model: H100\n");
	put("sys/bus/pci/devices/0000:18:00.0/local_cpulist", "0-1\n");
	put("sys/bus/pci/devices/0000:b9:00.0/local_cpulist", "2-3\n");

	ASSERT_EQ(rl_node_gpu_count(proc), 2);
	rl_strv_init(&ids);
	ASSERT_EQ(rl_node_gpu_bus_ids(proc, &ids), 0);
	ASSERT_STREQ(ids.v[0], "0000:18:00.0");
	ASSERT_STREQ(ids.v[1], "0000:b9:00.0");
	rl_strv_release(&ids);

	ASSERT_EQ(rl_node_gpu_cpuset("1", proc, sys, &s), 0);
	ASSERT_EQ(CPU_COUNT(&s), 2);
	ASSERT_TRUE(CPU_ISSET(2, &s) && CPU_ISSET(3, &s));
	/* an index the node does not have, and a UUID without NVML */
	ASSERT_EQ(rl_node_gpu_cpuset("2", proc, sys, &s), -2);
	ASSERT_EQ(rl_node_gpu_cpuset("GPU-8d2f1c3a-1b2c-4d5e-8f90-a1b2c3d4e5f6", proc, sys, &s), -2);
}

static void test_no_gpus(void)
{
	char proc[128];
	snprintf(proc, sizeof(proc), "%s/nothing", root);
	ASSERT_EQ(rl_node_gpu_count(proc), 0); /* no /proc entries and no NVML here */
}

static void test_net_detect(void)
{
	char sys[128], target[256], link[256];

	snprintf(sys, sizeof(sys), "%s/netsys", root);
	ASSERT_EQ(rl_net_preset_detect(sys), RL_NET_NONE);
	put("netsys/class/infiniband/mlx5_0/device/vendor", "0x15b3\n");
	put("netsys/bus/pci/drivers/mlx5_core/x", "");
	snprintf(target, sizeof(target), "%s/netsys/bus/pci/drivers/mlx5_core", root);
	snprintf(link, sizeof(link), "%s/netsys/class/infiniband/mlx5_0/device/driver", root);
	ASSERT_EQ(symlink(target, link), 0);
	ASSERT_EQ(rl_net_preset_detect(sys), RL_NET_IB);
	put("netsys/class/infiniband/rdmap16s27/device/vendor", "0x1d0f\n");
	put("netsys/bus/pci/drivers/efa/x", "");
	snprintf(target, sizeof(target), "%s/netsys/bus/pci/drivers/efa", root);
	snprintf(link, sizeof(link), "%s/netsys/class/infiniband/rdmap16s27/device/driver", root);
	ASSERT_EQ(symlink(target, link), 0);
	ASSERT_EQ(rl_net_preset_detect(sys), RL_NET_EFA);
}

static void test_presets(void)
{
	struct rl_strv env;
	rl_strv_init(&env);
	ASSERT_EQ(rl_net_preset_apply(&env, RL_NET_EFA), 0);
	ASSERT_STREQ(rl_env_lookup(env.v, "FI_PROVIDER"), "efa");
	ASSERT_STREQ(rl_env_lookup(env.v, "NCCL_SOCKET_IFNAME"), "^docker,lo,veth");
	/* variables AWS marks unneeded with libfabric >= 1.18 / aws-ofi-nccl >= 1.7 */
	ASSERT_TRUE(rl_env_lookup(env.v, "FI_EFA_USE_DEVICE_RDMA") == NULL);
	ASSERT_TRUE(rl_env_lookup(env.v, "NCCL_PROTO") == NULL);
	rl_strv_release(&env);
	rl_strv_init(&env);
	ASSERT_EQ(rl_net_preset_apply(&env, RL_NET_NONE), 0);
	ASSERT_EQ(env.n, 0);
	rl_strv_release(&env);
}

int main(void)
{
	char cmd[128];
	snprintf(root, sizeof(root), "/tmp/rlaunch-test-probe.XXXXXX");
	if (!mkdtemp(root))
		return 1;
	RUN_TEST(test_cpulist);
	RUN_TEST(test_gpus_from_proc_and_sysfs);
	RUN_TEST(test_no_gpus);
	RUN_TEST(test_net_detect);
	RUN_TEST(test_presets);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		return 1;
	TEST_MAIN_END();
}
