#include "rlaunch/net_preset.h"
#include "rlaunch/rank_env.h"
#include "test.h"

struct fixture {
	struct rl_options o;
	struct rl_cuda_devices d;
	struct rl_plan p;
	struct rl_rank_env_input in;
};

static void setup(struct fixture *f, char **envp, const char *cvd, int g, enum rl_cvd_policy pol)
{
	char err[256];
	memset(f, 0, sizeof(*f));
	rl_options_init(&f->o);
	rl_strv_init(&f->o.env_overrides);
	f->o.gpus_per_node = g;
	f->o.cvd = pol;
	f->o.max_restarts = 2;
	if (rl_cuda_devices_parse(&f->d, cvd, err, sizeof(err)) < 0 ||
	    rl_plan_build_local(&f->p, &f->o, &f->d, 8, NULL, err, sizeof(err)) < 0)
		abort();
	f->in.envp = envp;
	f->in.plan = &f->p;
	f->in.opts = &f->o;
	f->in.net = RL_NET_NONE;
	f->in.restart_count = 1;
	f->in.run_id = "run42";
}

static void teardown(struct fixture *f)
{
	rl_plan_release(&f->p);
	rl_cuda_devices_release(&f->d);
	rl_options_release(&f->o);
}

static void test_contract(void)
{
	char *envp[] = { "PATH=/bin", "CUDA_VISIBLE_DEVICES=4,5,6,7", "OMP_NUM_THREADS=8", NULL };
	struct fixture f;
	struct rl_strv env;
	setup(&f, envp, "4,5,6,7", -1, RL_CVD_RESET);
	ASSERT_EQ(rl_rank_env_build(&env, &f.in, 2), 0);
	ASSERT_STREQ(rl_env_lookup(env.v, "RANK"), "2");
	ASSERT_STREQ(rl_env_lookup(env.v, "LOCAL_RANK"), "6");
	ASSERT_STREQ(rl_env_lookup(env.v, "WORLD_SIZE"), "4");
	ASSERT_STREQ(rl_env_lookup(env.v, "LOCAL_WORLD_SIZE"), "4");
	ASSERT_STREQ(rl_env_lookup(env.v, "NODE_RANK"), "0");
	ASSERT_STREQ(rl_env_lookup(env.v, "GROUP_RANK"), "0");
	ASSERT_STREQ(rl_env_lookup(env.v, "MASTER_ADDR"), "127.0.0.1");
	ASSERT_STREQ(rl_env_lookup(env.v, "MASTER_PORT"), "29500");
	ASSERT_STREQ(rl_env_lookup(env.v, "TORCHELASTIC_RESTART_COUNT"), "1");
	ASSERT_STREQ(rl_env_lookup(env.v, "TORCHELASTIC_MAX_RESTARTS"), "2");
	ASSERT_STREQ(rl_env_lookup(env.v, "TORCHELASTIC_RUN_ID"), "run42");
	ASSERT_STREQ(rl_env_lookup(env.v, "OMP_NUM_THREADS"), "8"); /* user's value kept */
	ASSERT_STREQ(rl_env_lookup(env.v, "CUDA_DEVICE_MAX_CONNECTIONS"), "1");
	ASSERT_STREQ(rl_env_lookup(env.v, "CUDA_DEVICE_ORDER"), "PCI_BUS_ID");
	ASSERT_TRUE(rl_env_lookup(env.v, "CUDA_VISIBLE_DEVICES") == NULL);
	ASSERT_STREQ(rl_env_lookup(env.v, "PATH"), "/bin");
	ASSERT_TRUE(rl_env_lookup(env.v, "GLOO_SOCKET_IFNAME") == NULL);
	rl_strv_release(&env);
	teardown(&f);
}

static void test_multinode_extras(void)
{
	char *envp[] = { "PMIX_RANK=3", "PMIX_NAMESPACE=x", "OMPI_COMM_WORLD_RANK=3", "KEEP=1", NULL };
	struct fixture f;
	struct rl_strv env;
	setup(&f, envp, NULL, 2, RL_CVD_RESET);
	f.in.strip_launcher_env = true;
	f.in.socket_ifname = "eth1";
	ASSERT_EQ(rl_rank_env_build(&env, &f.in, 0), 0);
	ASSERT_TRUE(rl_env_lookup(env.v, "PMIX_RANK") == NULL);
	ASSERT_TRUE(rl_env_lookup(env.v, "PMIX_NAMESPACE") == NULL);
	ASSERT_TRUE(rl_env_lookup(env.v, "OMPI_COMM_WORLD_RANK") == NULL);
	ASSERT_STREQ(rl_env_lookup(env.v, "KEEP"), "1");
	ASSERT_STREQ(rl_env_lookup(env.v, "GLOO_SOCKET_IFNAME"), "eth1");
	rl_strv_release(&env);
	teardown(&f);
}

static void test_policies(void)
{
	char *envp[] = { "CUDA_VISIBLE_DEVICES=2,3", NULL };
	struct fixture f;
	struct rl_strv env;

	setup(&f, envp, "2,3", -1, RL_CVD_KEEP);
	ASSERT_EQ(rl_rank_env_build(&env, &f.in, 1), 0);
	ASSERT_STREQ(rl_env_lookup(env.v, "CUDA_VISIBLE_DEVICES"), "2,3");
	ASSERT_STREQ(rl_env_lookup(env.v, "LOCAL_RANK"), "1");
	rl_strv_release(&env);
	teardown(&f);

	setup(&f, envp, "2,3", -1, RL_CVD_SINGLE);
	ASSERT_EQ(rl_rank_env_build(&env, &f.in, 1), 0);
	ASSERT_STREQ(rl_env_lookup(env.v, "CUDA_VISIBLE_DEVICES"), "3");
	ASSERT_STREQ(rl_env_lookup(env.v, "LOCAL_RANK"), "1");
	rl_strv_release(&env);
	teardown(&f);
}

static void test_overrides_win(void)
{
	char *envp[] = { "NCCL_SOCKET_IFNAME=eth9", NULL };
	struct fixture f;
	struct rl_strv env;
	setup(&f, envp, NULL, 2, RL_CVD_RESET);
	f.in.net = RL_NET_SOCKET;
	rl_strv_push(&f.o.env_overrides, "RANK=99");
	rl_strv_push(&f.o.env_overrides, "NCCL_NET=IB");
	rl_strv_push(&f.o.env_overrides, "EXTRA=a=b");
	ASSERT_EQ(rl_rank_env_build(&env, &f.in, 0), 0);
	ASSERT_STREQ(rl_env_lookup(env.v, "RANK"), "99");
	ASSERT_STREQ(rl_env_lookup(env.v, "NCCL_NET"), "IB");
	ASSERT_STREQ(rl_env_lookup(env.v, "EXTRA"), "a=b");
	ASSERT_STREQ(rl_env_lookup(env.v, "NCCL_IB_DISABLE"), "1");
	/* a preset never overrides what the user exported */
	ASSERT_STREQ(rl_env_lookup(env.v, "NCCL_SOCKET_IFNAME"), "eth9");
	rl_strv_release(&env);
	teardown(&f);
}

static void test_env_helpers(void)
{
	struct rl_strv env;
	rl_strv_init(&env);
	ASSERT_EQ(rl_env_set(&env, "A", "1"), 0);
	ASSERT_EQ(rl_env_set(&env, "AB", "2"), 0);
	ASSERT_EQ(rl_env_set(&env, "A", "3"), 0);
	ASSERT_EQ(env.n, 2);
	ASSERT_STREQ(rl_env_lookup(env.v, "A"), "3");
	ASSERT_EQ(rl_env_set_default(&env, "AB", "x"), 0);
	ASSERT_STREQ(rl_env_lookup(env.v, "AB"), "2");
	ASSERT_EQ(rl_env_put(&env, "noequals"), -22);
	ASSERT_EQ(rl_env_put(&env, "=x"), -22);
	rl_env_unset(&env, "A");
	ASSERT_TRUE(rl_env_lookup(env.v, "A") == NULL);
	ASSERT_STREQ(rl_env_lookup(env.v, "AB"), "2");
	ASSERT_TRUE(env.v[env.n] == NULL);
	rl_strv_release(&env);
}

int main(void)
{
	RUN_TEST(test_contract);
	RUN_TEST(test_policies);
	RUN_TEST(test_overrides_win);
	RUN_TEST(test_env_helpers);
	RUN_TEST(test_multinode_extras);
	TEST_MAIN_END();
}
