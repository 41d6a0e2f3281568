#include <sys/stat.h>
#include <unistd.h>

#include "rlaunch/command_path.h"
#include "rlaunch/parse.h"
#include "rlaunch/summary.h"
#include "rlaunch/worker_stage.h"
#include "test.h"

static void test_lookup(void)
{
	char dir[] = "/tmp/rlaunch-test-cmd.XXXXXX", path[128], pathenv[300];
	FILE *f;

	ASSERT_TRUE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/noexec", dir);
	f = fopen(path, "w");
	fclose(f);
	snprintf(pathenv, sizeof(pathenv), "/nonexistent:%s:/bin", dir);

	ASSERT_EQ(rl_command_check("sh", pathenv), 0);
	ASSERT_EQ(rl_command_check("/bin/sh", NULL), 0);
	ASSERT_EQ(rl_command_check("surely-not-a-command-xyz", pathenv), -2);
	ASSERT_EQ(rl_command_check("noexec", pathenv), -13);
	ASSERT_EQ(rl_command_check(path, NULL), -13);
	ASSERT_EQ(rl_command_check(dir, NULL), -21);
	ASSERT_EQ(rl_command_check("", NULL), -2);
	ASSERT_STREQ(rl_command_check_reason(-2), "command not found");
	unlink(path);
	rmdir(dir);
}

static void test_numbers_and_lists(void)
{
	long v;
	double d;
	uint8_t bits[4] = { 0 };
	ASSERT_EQ(rl_parse_long("42", 0, 100, &v), 0);
	ASSERT_EQ(v, 42);
	ASSERT_EQ(rl_parse_long("101", 0, 100, &v), -34);
	ASSERT_EQ(rl_parse_long("+1", 0, 100, &v), -22);
	ASSERT_EQ(rl_parse_long("", 0, 100, &v), -22);
	ASSERT_EQ(rl_parse_seconds("0.25", 10, &d), 0);
	ASSERT_TRUE(d == 0.25);
	ASSERT_EQ(rl_parse_index_list("1,3-5", bits, 32), 0);
	ASSERT_TRUE(rl_bit_test(bits, 1) && rl_bit_test(bits, 4) && !rl_bit_test(bits, 2));
	ASSERT_EQ(rl_parse_index_list("32", bits, 32), -22);
}

/* Plain decimals only: digits with at most one '.', at least one digit. */
static void test_seconds(void)
{
	const char *bad[] = { "1e3", "0x10", " 1", "1 ", "nan", "inf", "-0", "-1", "+1",
			      "", ".", "1.2.3", "1,5", "0x", "1e", "INF", "\t1" };
	char huge[400];
	double d = -1;

	ASSERT_EQ(rl_parse_seconds("30", 100, &d), 0);
	ASSERT_TRUE(d == 30);
	ASSERT_EQ(rl_parse_seconds("0.5", 100, &d), 0);
	ASSERT_TRUE(d == 0.5);
	ASSERT_EQ(rl_parse_seconds(".5", 100, &d), 0);
	ASSERT_TRUE(d == 0.5);
	ASSERT_EQ(rl_parse_seconds("5.", 100, &d), 0);
	ASSERT_TRUE(d == 5);
	ASSERT_EQ(rl_parse_seconds("0", 100, &d), 0);
	ASSERT_TRUE(d == 0);
	ASSERT_EQ(rl_parse_seconds("007", 100, &d), 0);
	ASSERT_TRUE(d == 7);
	ASSERT_EQ(rl_parse_seconds("100", 100, &d), 0);
	ASSERT_EQ(rl_parse_seconds("100.5", 100, &d), -34);
	ASSERT_EQ(rl_parse_seconds("1000", 100, &d), -34);
	d = -1;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (rl_parse_seconds(bad[i], 100, &d) != -22)
			TEST_FAIL("rl_parse_seconds(\"%s\") is not -EINVAL", bad[i]);
	}
	ASSERT_TRUE(d == -1); /* untouched on error */
	ASSERT_EQ(rl_parse_seconds(NULL, 100, &d), -22);
	memset(huge, '9', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	ASSERT_EQ(rl_parse_seconds(huge, 100, &d), -34);
}

static void test_failure_status(void)
{
	struct rl_failure f = { .exit_code = 3 };
	char buf[64];
	ASSERT_EQ(rl_failure_status(&f), 3);
	ASSERT_STREQ(rl_failure_describe(&f, buf, sizeof(buf)), "exit code 3");
	f.signal = 9;
	ASSERT_EQ(rl_failure_status(&f), 137);
	ASSERT_STREQ(rl_failure_describe(&f, buf, sizeof(buf)), "signal SIGKILL (9)");
	ASSERT_EQ(rl_exec_failure_status(2), 127);
	ASSERT_EQ(rl_exec_failure_status(13), 126);
}

static void test_worker_argv(void)
{
	char *cmd[] = { "python3", "-c", "pass", NULL };
	struct rl_strv a;
	ASSERT_EQ(rl_worker_stage_argv(&a, 1234, "", true, "", cmd), 0);
	ASSERT_STREQ(a.v[1], RL_WORKER_STAGE_ARG);
	ASSERT_STREQ(a.v[2], "1234");
	ASSERT_STREQ(a.v[3], "-");
	ASSERT_STREQ(a.v[4], "1");
	ASSERT_STREQ(a.v[5], "-");
	ASSERT_STREQ(a.v[6], "--");
	ASSERT_STREQ(a.v[7], "python3");
	ASSERT_TRUE(a.v[10] == NULL);
	rl_strv_release(&a);
	ASSERT_EQ(rl_worker_stage_argv(&a, 1, "3", false, "ofi,tcp,127.0.0.1,1024,2,5,0", cmd), 0);
	ASSERT_STREQ(a.v[5], "ofi,tcp,127.0.0.1,1024,2,5,0");
	rl_strv_release(&a);
}

int main(void)
{
	RUN_TEST(test_lookup);
	RUN_TEST(test_numbers_and_lists);
	RUN_TEST(test_seconds);
	RUN_TEST(test_failure_status);
	RUN_TEST(test_worker_argv);
	TEST_MAIN_END();
}
