/* The libfabric ring all-reduce, for real: N rank processes on loopback
 * (tcp provider bound to 127.0.0.1), addresses exchanged through the parent,
 * every element of the result checked exactly. */
#include <sys/wait.h>
#include <unistd.h>

#include "rlaunch/ofi_allreduce.h"
#include "test.h"

#define NRANKS 3

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	char *c = p;
	while (n) {
		ssize_t r = read(fd, c, n);
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Rank r fills element i with (r + 1) * (i % 7 + 1); the sum is exact in float. */
static int run_rank(int rank, int to_parent, int from_parent, size_t count, const int *group,
		    int ngroup)
{
	char err[256];
	struct rl_ofi *o;
	uint8_t addr[RL_OFI_ADDR_MAX], all[NRANKS * RL_OFI_ADDR_MAX];
	size_t len = 0;
	float *buf;
	int me = -1, sum = 0;

	if (rl_ofi_open(&o, "tcp", "127.0.0.1", err, sizeof(err)) < 0 ||
	    rl_ofi_address(o, addr, &len, err, sizeof(err)) < 0) {
		fprintf(stderr, "rank %d: %s\n", rank, err);
		return 2;
	}
	memset(addr + len, 0, sizeof(addr) - len);
	if (write_all(to_parent, addr, sizeof(addr)) < 0 || read_all(from_parent, all, sizeof(all)) < 0)
		return 3;
	if (rl_ofi_set_peers(o, all, RL_OFI_ADDR_MAX, NRANKS, err, sizeof(err)) < 0) {
		fprintf(stderr, "rank %d: %s\n", rank, err);
		return 4;
	}
	for (int g = 0; g < ngroup; g++) {
		if (group[g] == rank)
			me = g;
		sum += group[g] + 1;
	}
	buf = malloc(count * sizeof(float));
	for (size_t i = 0; i < count; i++)
		buf[i] = (float)((rank + 1) * (int)(i % 7 + 1));
	if (me >= 0 && rl_ofi_allreduce(o, group, ngroup, me, buf, count, 1, 20, err, sizeof(err)) < 0) {
		fprintf(stderr, "rank %d: %s\n", rank, err);
		return 5;
	}
	for (size_t i = 0; me >= 0 && i < count; i++) {
		if (buf[i] != (float)(sum * (int)(i % 7 + 1))) {
			fprintf(stderr, "rank %d: element %zu is %g, expected %d\n", rank, i, buf[i],
				sum * (int)(i % 7 + 1));
			return 6;
		}
	}
	free(buf);
	rl_ofi_close(o);
	return 0;
}

static void run_job(size_t count, const int *group, int ngroup)
{
	int up[NRANKS][2], down[NRANKS][2];
	pid_t pids[NRANKS];
	uint8_t all[NRANKS * RL_OFI_ADDR_MAX];

	for (int r = 0; r < NRANKS; r++) {
		if (pipe(up[r]) < 0 || pipe(down[r]) < 0)
			abort();
		pids[r] = fork();
		if (pids[r] == 0) {
			alarm(60);
			_exit(run_rank(r, up[r][1], down[r][0], count, group, ngroup));
		}
		close(up[r][1]);
		close(down[r][0]);
	}
	for (int r = 0; r < NRANKS; r++)
		ASSERT_EQ(read_all(up[r][0], all + r * RL_OFI_ADDR_MAX, RL_OFI_ADDR_MAX), 0);
	for (int r = 0; r < NRANKS; r++)
		ASSERT_EQ(write_all(down[r][1], all, sizeof(all)), 0);
	for (int r = 0; r < NRANKS; r++) {
		int status;
		ASSERT_EQ(waitpid(pids[r], &status, 0), pids[r]);
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(WEXITSTATUS(status), 0);
		close(up[r][0]);
		close(down[r][1]);
	}
}

static void test_all_ranks_uneven_count(void)
{
	const int group[NRANKS] = { 0, 1, 2 };
	run_job(1000003, group, NRANKS); /* not divisible by 3: uneven chunks */
}

static void test_subgroup(void)
{
	const int group[2] = { 2, 0 }; /* rank 1 sits out, as another node's ranks would */
	run_job(4096, group, 2);
}

static void test_large_segmented(void)
{
	const int group[NRANKS] = { 0, 1, 2 };
	run_job(8u << 20, group, NRANKS); /* 32 MiB: several segments per step */
}

static void test_missing_provider(void)
{
	struct rl_ofi *o;
	char err[256] = "";
	ASSERT_TRUE(rl_ofi_open(&o, "no-such-provider", "127.0.0.1", err, sizeof(err)) < 0);
	ASSERT_CONTAINS(err, "no-such-provider");
	rl_ofi_close(o);
}

int main(void)
{
	RUN_TEST(test_all_ranks_uneven_count);
	RUN_TEST(test_subgroup);
	RUN_TEST(test_large_segmented);
	RUN_TEST(test_missing_provider);
	TEST_MAIN_END();
}
