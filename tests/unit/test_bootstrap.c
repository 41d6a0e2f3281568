/* Which rendezvous, how many agents, who serves: from options and environment. */
#include "rlaunch/bootstrap.h"
#include "test.h"

static int resolve(struct rl_bootstrap *b, struct rl_options *o, char **envp, char *err)
{
	return rl_bootstrap_resolve(b, o, envp, err, 256);
}

static void test_endpoint(void)
{
	char host[64];
	int port;
	ASSERT_EQ(rl_endpoint_parse("head:29500", 1, host, sizeof(host), &port), 0);
	ASSERT_STREQ(host, "head");
	ASSERT_EQ(port, 29500);
	ASSERT_EQ(rl_endpoint_parse("10.0.0.1", 29400, host, sizeof(host), &port), 0);
	ASSERT_EQ(port, 29400);
	ASSERT_EQ(rl_endpoint_parse("[fd00::1]:80", 1, host, sizeof(host), &port), 0);
	ASSERT_STREQ(host, "fd00::1");
	ASSERT_EQ(port, 80);
	ASSERT_EQ(rl_endpoint_parse("fd00::1", 1, host, sizeof(host), &port), -22);
	ASSERT_EQ(rl_endpoint_parse("head:0", 1, host, sizeof(host), &port), -22);
	ASSERT_EQ(rl_endpoint_parse("head:x", 1, host, sizeof(host), &port), -22);
	ASSERT_EQ(rl_endpoint_parse(":80", 1, host, sizeof(host), &port), -22);
	ASSERT_EQ(rl_endpoint_parse("", 1, host, sizeof(host), &port), -22);
}

static void test_auto_order(void)
{
	struct rl_options o;
	struct rl_bootstrap b;
	char err[256];
	char *none[] = { "PATH=/bin", NULL };
	char *slurm[] = { "SLURM_PROCID=1", "SLURM_STEP_NUM_NODES=4", "SLURM_STEP_NUM_TASKS=4",
			  "SLURM_STEP_NODELIST=gpu[007-010]", "SLURM_JOB_ID=1234", NULL };
	char *pmix[] = { "PMIX_RANK=2", "PMIX_NAMESPACE=slurm.pmix.1.0", "SLURM_PROCID=2",
			 "SLURM_STEP_NODELIST=n1", NULL };

	rl_options_init(&o);
	ASSERT_EQ(resolve(&b, &o, none, err), 0);
	ASSERT_EQ(b.kind, RL_RDZV_SINGLE);
	ASSERT_EQ(resolve(&b, &o, slurm, err), 0);
	ASSERT_EQ(b.kind, RL_RDZV_SLURM);
	ASSERT_EQ(b.nodes, 4);
	ASSERT_TRUE(!b.serve);
	ASSERT_STREQ(b.host, "gpu007");
	ASSERT_EQ(b.port, 29400 + (1234 * 7) % 1000);
	ASSERT_EQ(resolve(&b, &o, pmix, err), 0);
	ASSERT_EQ(b.kind, RL_RDZV_PMIX);
	ASSERT_EQ(b.pmix_rank, 2);
	o.rdzv_endpoint = "head:1234";
	ASSERT_EQ(resolve(&b, &o, none, err), 0);
	ASSERT_EQ(b.kind, RL_RDZV_TCP);
	ASSERT_TRUE(b.try_serve);
	ASSERT_EQ(b.port, 1234);
	/* under Slurm, only the endpoint's port counts */
	ASSERT_EQ(resolve(&b, &o, slurm, err), 0);
	ASSERT_EQ(b.kind, RL_RDZV_SLURM);
	ASSERT_EQ(b.port, 1234);
	ASSERT_STREQ(b.host, "gpu007");
	rl_options_release(&o);
}

static void test_errors(void)
{
	struct rl_options o;
	struct rl_bootstrap b;
	char err[256] = "";
	char *none[] = { "PATH=/bin", NULL };
	char *per_task[] = { "SLURM_PROCID=0", "SLURM_STEP_NUM_NODES=2", "SLURM_STEP_NUM_TASKS=16",
			     "SLURM_STEP_NODELIST=n[1-2]", NULL };
	char *garbage[] = { "SLURM_PROCID=zero", "SLURM_STEP_NUM_NODES=2", "SLURM_STEP_NUM_TASKS=2",
			    "SLURM_STEP_NODELIST=n[1-2]", NULL };
	char *badlist[] = { "SLURM_PROCID=0", "SLURM_STEP_NUM_NODES=2", "SLURM_STEP_NUM_TASKS=2",
			    "SLURM_STEP_NODELIST=n[1-", NULL };

	rl_options_init(&o);
	o.nodes = 2;
	ASSERT_EQ(resolve(&b, &o, none, err), -22);
	ASSERT_CONTAINS(err, "needs a rendezvous");
	o.nodes = 1;
	ASSERT_EQ(resolve(&b, &o, per_task, err), -22);
	ASSERT_CONTAINS(err, "--ntasks-per-node=1");
	ASSERT_EQ(resolve(&b, &o, garbage, err), -22);
	ASSERT_CONTAINS(err, "SLURM_PROCID='zero'");
	ASSERT_EQ(resolve(&b, &o, badlist, err), -22);
	ASSERT_CONTAINS(err, "SLURM_STEP_NODELIST");
	o.rdzv = RL_RDZV_TCP;
	ASSERT_EQ(resolve(&b, &o, none, err), -22);
	ASSERT_CONTAINS(err, "needs --rdzv-endpoint");
	o.rdzv = RL_RDZV_PMIX;
	ASSERT_EQ(resolve(&b, &o, none, err), -22);
	ASSERT_CONTAINS(err, "srun --mpi=pmix");
	o.rdzv = RL_RDZV_SLURM;
	o.nodes = 3;
	o.nodes_given = true;
	char *slurm2[] = { "SLURM_PROCID=0", "SLURM_STEP_NUM_NODES=2", "SLURM_STEP_NUM_TASKS=2",
			   "SLURM_STEP_NODELIST=n[1-2]", NULL };
	ASSERT_EQ(resolve(&b, &o, slurm2, err), -22);
	ASSERT_CONTAINS(err, "--nodes 3 does not match the 2 nodes");
	rl_options_release(&o);
}

int main(void)
{
	RUN_TEST(test_endpoint);
	RUN_TEST(test_auto_order);
	RUN_TEST(test_errors);
	TEST_MAIN_END();
}
