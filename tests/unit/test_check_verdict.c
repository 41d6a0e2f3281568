/* The verdict from per-rank check results: failures, thresholds, outliers. */
#include "rlaunch/check_verdict.h"
#include "test.h"

#define NODES 4
#define G 2

static struct rl_node_info nodes[NODES];
static struct rl_check_result res[NODES * G];

static void setup(double node_gbps)
{
	memset(nodes, 0, sizeof(nodes));
	for (int n = 0; n < NODES; n++) {
		char a[32];
		snprintf(a, sizeof(a), "10.0.0.%d", n + 1);
		rl_addr_parse(a, &nodes[n].addr);
		snprintf(nodes[n].host, sizeof(nodes[n].host), "n%d", n + 1);
	}
	for (int r = 0; r < NODES * G; r++) {
		memset(&res[r], 0, sizeof(res[r]));
		res[r].rank = r;
		res[r].bad_index = -1;
		res[r].node_busbw_kbps = (uint64_t)(node_gbps * 1e6);
		res[r].all_busbw_kbps = 5000000;
	}
}

static void test_all_good(void)
{
	struct rl_check_setup s = { "ofi", "tcp", 1024, 1, 0, false };
	struct rl_check_node_row rows[NODES];
	setup(10);
	ASSERT_TRUE(rl_check_verdict(&s, nodes, NODES, G, res, rows));
	ASSERT_TRUE(rows[3].ok);
	ASSERT_TRUE(rows[0].node_gbps == 10.0);
}

static void test_outlier_node(void)
{
	struct rl_check_setup s = { "ofi", "tcp", 1024, 1, 0, false };
	struct rl_check_node_row rows[NODES];
	setup(10);
	res[5].node_busbw_kbps = 3000000; /* node 2 (ranks 4-5): 3 GB/s against 10 */
	ASSERT_TRUE(!rl_check_verdict(&s, nodes, NODES, G, res, rows));
	ASSERT_TRUE(!rows[2].ok);
	ASSERT_CONTAINS(rows[2].why, "outlier");
	ASSERT_TRUE(rows[0].ok && rows[1].ok && rows[3].ok);
	/* a node merely somewhat slower is no outlier */
	setup(10);
	res[5].node_busbw_kbps = 6000000;
	ASSERT_TRUE(rl_check_verdict(&s, nodes, NODES, G, res, rows));
}

static void test_threshold_and_failures(void)
{
	struct rl_check_setup s = { "ofi", "tcp", 1024, 1, 20, false };
	struct rl_check_node_row rows[NODES];
	setup(10);
	ASSERT_TRUE(!rl_check_verdict(&s, nodes, NODES, G, res, rows));
	ASSERT_CONTAINS(rows[0].why, "under --check-min-busbw");
	s.min_busbw_gbps = 0;
	setup(10);
	res[3].status = RL_CHECK_WRONG_DATA;
	res[3].bad_index = 77;
	res[0].status = RL_CHECK_NO_REPORT; /* cut short: not blamed while another failed */
	ASSERT_TRUE(!rl_check_verdict(&s, nodes, NODES, G, res, rows));
	ASSERT_CONTAINS(rows[1].why, "rank 3: wrong data at index 77");
	ASSERT_CONTAINS(rows[0].why, "not finished");
	s.timed_out = true;
	ASSERT_TRUE(!rl_check_verdict(&s, nodes, NODES, G, res, rows));
	ASSERT_CONTAINS(rows[0].why, "rank 0: never reported");
}

int main(void)
{
	RUN_TEST(test_all_good);
	RUN_TEST(test_outlier_node);
	RUN_TEST(test_threshold_and_failures);
	TEST_MAIN_END();
}
