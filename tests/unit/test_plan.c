#include "rlaunch/plan.h"
#include "test.h"

static void setup(struct rl_options *o, struct rl_cuda_devices *d, const char *cvd, int g)
{
	char err[256];
	rl_options_init(o);
	o->gpus_per_node = g;
	if (rl_cuda_devices_parse(d, cvd, err, sizeof(err)) < 0)
		abort();
}

static void test_reset_maps_physical_ids(void)
{
	struct rl_options o;
	struct rl_cuda_devices d;
	struct rl_plan p;
	char err[256] = "";
	setup(&o, &d, "4,5,6,7", -1);
	ASSERT_EQ(rl_plan_build_local(&p, &o, &d, 8, NULL, err, sizeof(err)), 0);
	ASSERT_EQ(p.gpus_per_node, 4);
	ASSERT_EQ(p.world_size, 4);
	ASSERT_TRUE(!p.cpu_only);
	ASSERT_EQ(p.slots[0].rank, 0);
	ASSERT_EQ(p.slots[0].env_local_rank, 4);
	ASSERT_EQ(p.slots[3].env_local_rank, 7);
	ASSERT_STREQ(p.slots[2].gpu, "6");
	ASSERT_STREQ(p.master_addr, "127.0.0.1");
	rl_plan_release(&p);
	rl_cuda_devices_release(&d);
	rl_options_release(&o);
}

static void test_keep_and_single_use_logical_index(void)
{
	struct rl_options o;
	struct rl_cuda_devices d;
	struct rl_plan p;
	char err[256] = "";
	setup(&o, &d, "GPU-8d2f1c3a-1b2c-4d5e-8f90-a1b2c3d4e5f6,GPU-9d2f1c3a-1b2c-4d5e-8f90-a1b2c3d4e5f6", 2);
	o.cvd = RL_CVD_SINGLE;
	ASSERT_EQ(rl_plan_build_local(&p, &o, &d, 8, NULL, err, sizeof(err)), 0);
	ASSERT_EQ(p.slots[1].env_local_rank, 1);
	ASSERT_STREQ(p.slots[1].gpu, "GPU-9d2f1c3a-1b2c-4d5e-8f90-a1b2c3d4e5f6");
	rl_plan_release(&p);
	/* reset cannot turn UUIDs into ids */
	o.cvd = RL_CVD_RESET;
	ASSERT_EQ(rl_plan_build_local(&p, &o, &d, 8, NULL, err, sizeof(err)), -22);
	ASSERT_CONTAINS(err, "UUIDs");
	rl_plan_release(&p);
	rl_cuda_devices_release(&d);
	rl_options_release(&o);
}

static void test_machine_gpus_when_unset(void)
{
	struct rl_options o;
	struct rl_cuda_devices d;
	struct rl_plan p;
	char err[256] = "";
	setup(&o, &d, NULL, -1);
	ASSERT_EQ(rl_plan_build_local(&p, &o, &d, 8, NULL, err, sizeof(err)), 0);
	ASSERT_EQ(p.gpus_per_node, 8);
	ASSERT_STREQ(p.slots[7].gpu, "7");
	ASSERT_EQ(p.slots[7].env_local_rank, 7);
	rl_plan_release(&p);
	o.gpus_per_node = 2; /* fewer than the machine has: the first two */
	ASSERT_EQ(rl_plan_build_local(&p, &o, &d, 8, NULL, err, sizeof(err)), 0);
	ASSERT_EQ(p.world_size, 2);
	rl_plan_release(&p);
	o.gpus_per_node = 9;
	ASSERT_EQ(rl_plan_build_local(&p, &o, &d, 8, NULL, err, sizeof(err)), -22);
	ASSERT_CONTAINS(err, "more GPUs than the 8 this node has");
	rl_plan_release(&p);
	rl_cuda_devices_release(&d);
	rl_options_release(&o);
}

static void test_cpu_only(void)
{
	struct rl_options o;
	struct rl_cuda_devices d;
	struct rl_plan p;
	char err[256] = "";
	setup(&o, &d, NULL, -1);
	ASSERT_EQ(rl_plan_build_local(&p, &o, &d, 0, NULL, err, sizeof(err)), -22);
	ASSERT_CONTAINS(err, "pass --gpus-per-node");
	rl_plan_release(&p);
	o.gpus_per_node = 3;
	ASSERT_EQ(rl_plan_build_local(&p, &o, &d, 0, NULL, err, sizeof(err)), 0);
	ASSERT_TRUE(p.cpu_only);
	ASSERT_STREQ(p.slots[2].gpu, "");
	ASSERT_EQ(p.slots[2].env_local_rank, 2);
	rl_plan_release(&p);
	rl_cuda_devices_release(&d);
	/* an explicit empty CUDA_VISIBLE_DEVICES also means "no GPU" */
	setup(&o, &d, "", 2);
	ASSERT_EQ(rl_plan_build_local(&p, &o, &d, 8, NULL, err, sizeof(err)), 0);
	ASSERT_TRUE(p.cpu_only);
	rl_plan_release(&p);
	rl_cuda_devices_release(&d);
	rl_options_release(&o);
}

static void test_too_many_for_cvd(void)
{
	struct rl_options o;
	struct rl_cuda_devices d;
	struct rl_plan p;
	char err[256] = "";
	setup(&o, &d, "0,1", 4);
	ASSERT_EQ(rl_plan_build_local(&p, &o, &d, 8, NULL, err, sizeof(err)), -22);
	ASSERT_CONTAINS(err, "than the 2 listed in CUDA_VISIBLE_DEVICES");
	rl_plan_release(&p);
	rl_cuda_devices_release(&d);
	rl_options_release(&o);
}

static void test_node_rank_offsets_ranks(void)
{
	struct rl_options o;
	struct rl_cuda_devices d;
	struct rl_plan p;
	char err[256] = "";
	setup(&o, &d, NULL, 4);
	o.nodes = 3;
	o.node_rank = 2;
	ASSERT_EQ(rl_plan_build_local(&p, &o, &d, 4, NULL, err, sizeof(err)), 0);
	ASSERT_EQ(p.world_size, 12);
	ASSERT_EQ(p.slots[0].rank, 8);
	ASSERT_EQ(p.slots[3].rank, 11);
	rl_plan_release(&p);
	o.node_rank = 3;
	ASSERT_EQ(rl_plan_build_local(&p, &o, &d, 4, NULL, err, sizeof(err)), -22);
	rl_plan_release(&p);
	rl_cuda_devices_release(&d);
	rl_options_release(&o);
}

int main(void)
{
	RUN_TEST(test_reset_maps_physical_ids);
	RUN_TEST(test_keep_and_single_use_logical_index);
	RUN_TEST(test_machine_gpus_when_unset);
	RUN_TEST(test_cpu_only);
	RUN_TEST(test_too_many_for_cvd);
	RUN_TEST(test_node_rank_offsets_ranks);
	TEST_MAIN_END();
}
