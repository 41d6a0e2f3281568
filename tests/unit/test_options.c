#include "rlaunch/options.h"
#include "test.h"

static int parse(struct rl_options *o, char *err, const char *const *args)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = "rlaunch";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	rl_options_init(o);
	/* o->command points into argv, so argv must outlive the call */
	static char *stable[32];
	memcpy(stable, argv, sizeof(argv));
	return rl_options_parse(o, argc, stable, err, 256);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_defaults_and_command(void)
{
	struct rl_options o;
	char err[256] = "";
	ASSERT_EQ(parse(&o, err, ARGS("--", "python3", "-c", "x")), 0);
	ASSERT_EQ(o.gpus_per_node, -1);
	ASSERT_EQ(o.nodes, 1);
	ASSERT_EQ(o.master_port, 29500);
	ASSERT_EQ(o.cvd, RL_CVD_RESET);
	ASSERT_EQ(o.net, RL_NET_AUTO);
	ASSERT_TRUE(o.prefix);
	ASSERT_TRUE(o.grace_s == 30.0);
	ASSERT_STREQ(o.command[0], "python3");
	ASSERT_STREQ(o.command[2], "x");
	ASSERT_TRUE(o.command[3] == NULL);
	rl_options_release(&o);
}

static void test_torchrun_spellings(void)
{
	struct rl_options o;
	char err[256] = "";
	ASSERT_EQ(parse(&o, err, ARGS("--nproc_per_node=4", "--nnodes", "1", "--master_addr",
				      "10.0.0.1", "--master-port=0", "--standalone", "--rdzv_id",
				      "job7", "train", "--nproc-per-node", "9")), 0);
	ASSERT_EQ(o.gpus_per_node, 4);
	ASSERT_STREQ(o.master_addr, "10.0.0.1");
	ASSERT_EQ(o.master_port, 0);
	ASSERT_STREQ(o.run_id, "job7");
	/* options after the first word belong to the command */
	ASSERT_STREQ(o.command[0], "train");
	ASSERT_STREQ(o.command[1], "--nproc-per-node");
	rl_options_release(&o);
}

static void test_values(void)
{
	struct rl_options o;
	char err[256] = "";
	ASSERT_EQ(parse(&o, err, ARGS("--gpus-per-node", "8", "--env", "A=1", "--env=B=x=y",
				      "--net", "efa", "--cuda-visible-devices", "single",
				      "--cpu-affinity", "none", "--max-restarts", "3", "--grace",
				      "0.5", "--log-dir", "/tmp/l", "--no-prefix",
				      "--local-ranks-filter", "0,2-3", "--dry-run", "--", "true")), 0);
	ASSERT_EQ(o.gpus_per_node, 8);
	ASSERT_EQ(o.env_overrides.n, 2);
	ASSERT_STREQ(o.env_overrides.v[1], "B=x=y");
	ASSERT_EQ(o.net, RL_NET_EFA);
	ASSERT_EQ(o.cvd, RL_CVD_SINGLE);
	ASSERT_EQ(o.affinity, RL_AFFINITY_NONE);
	ASSERT_EQ(o.max_restarts, 3);
	ASSERT_TRUE(o.grace_s == 0.5);
	ASSERT_STREQ(o.log_dir, "/tmp/l");
	ASSERT_TRUE(!o.prefix);
	ASSERT_TRUE(o.dry_run);
	ASSERT_TRUE(rl_options_shows_rank(&o, 0));
	ASSERT_TRUE(!rl_options_shows_rank(&o, 1));
	ASSERT_TRUE(rl_options_shows_rank(&o, 2));
	ASSERT_TRUE(rl_options_shows_rank(&o, 3));
	ASSERT_TRUE(!rl_options_shows_rank(&o, 4));
	rl_options_release(&o);
}

static void expect_error(const char *const *args, const char *message)
{
	struct rl_options o;
	char err[256] = "";
	int rc = parse(&o, err, args);
	rl_options_release(&o);
	if (rc != -22 || !strstr(err, message)) {
		fprintf(stderr, "  FAIL: rc=%d err='%s', expected '%s'\n", rc, err, message);
		test_failures++;
	}
}

static void test_errors(void)
{
	expect_error(ARGS("--gpus-per-node", "0", "x"), "invalid value '0' for --gpus-per-node");
	expect_error(ARGS("--gpus-per-node", "4x", "x"), "invalid value '4x'");
	expect_error(ARGS("--gpus-per-node", "-1", "x"), "invalid value '-1'");
	expect_error(ARGS("--gpus-per-node", " 4", "x"), "invalid value");
	expect_error(ARGS("--gpus-per-node", "99999999999999999999", "x"), "invalid value");
	expect_error(ARGS("--gpus-per-node"), "needs a value");
	expect_error(ARGS("--bogus", "x"), "unknown option '--bogus'");
	expect_error(ARGS("-x", "y"), "unknown option '-x'");
	expect_error(ARGS("--dry-run=yes", "x"), "takes no value");
	expect_error(ARGS("--nnodes", "1:4", "x"), "elastic node ranges");
	expect_error(ARGS("--master-port", "65536", "x"), "a port from 0 to 65535");
	expect_error(ARGS("--env", "NOEQUALS", "x"), "KEY=VALUE");
	expect_error(ARGS("--env", "=v", "x"), "KEY=VALUE");
	expect_error(ARGS("--env", "1A=v", "x"), "letters, digits");
	expect_error(ARGS("--net", "roce", "x"), "efa, ib, socket, none or auto");
	expect_error(ARGS("--cuda-visible-devices", "all", "x"), "reset, keep or single");
	expect_error(ARGS("--grace", "-1", "x"), "seconds");
	expect_error(ARGS("--grace", "nan", "x"), "seconds");
	expect_error(ARGS("--grace", "inf", "x"), "seconds");
	expect_error(ARGS("--grace", "0x10", "x"), "invalid value '0x10' for --grace");
	expect_error(ARGS("--grace", "1e3", "x"), "seconds");
	expect_error(ARGS("--grace", "86401", "x"), "seconds from 0 to 86400");
	expect_error(ARGS("--master-addr", "a b", "x"),
		     "invalid value for --master-addr: spaces and control characters are not allowed");
	expect_error(ARGS("--master-addr", "host\n", "x"), "--master-addr: spaces and control");
	expect_error(ARGS("--master-addr=\thost", "x"), "--master-addr: spaces and control");
	expect_error(ARGS("--run-id", "job\n7", "x"),
		     "invalid value for --run-id: spaces and control characters are not allowed");
	expect_error(ARGS("--rdzv-id", "job 7", "x"), "--rdzv-id: spaces and control");
	expect_error(ARGS("--run-id", "job\x1b[2J", "x"), "--run-id: spaces and control");
	expect_error(ARGS("--log-dir", "/tmp/a\nb", "x"),
		     "invalid value for --log-dir: control characters are not allowed");
	expect_error(ARGS("--log-dir", "/tmp/a\x7f", "x"), "--log-dir: control characters");
	expect_error(ARGS("--", ""), "the command is empty");
	expect_error(ARGS("", "arg"), "the command is empty");
	expect_error(ARGS("--dry-run", "--", "", "x"), "the command is empty");
	expect_error(ARGS("--local-ranks-filter", "0,,1", "x"), "local ranks");
	expect_error(ARGS("--local-ranks-filter", "3-1", "x"), "local ranks");
	expect_error(ARGS("--max-restarts", "many", "x"), "whole number");
	expect_error(ARGS("--gpus-per-node", "2"), "no command given");
}

/* Spaces stay legal where they are legitimate: a log directory, --env values,
 * and any argument of the command after its first word. */
static void test_spaces_where_allowed(void)
{
	struct rl_options o;
	char err[256] = "";
	ASSERT_EQ(parse(&o, err, ARGS("--log-dir", "/tmp/my logs", "--env", "MSG=a b",
				      "--grace", ".5", "--", "echo", "", "a b")), 0);
	ASSERT_STREQ(o.log_dir, "/tmp/my logs");
	ASSERT_STREQ(o.env_overrides.v[0], "MSG=a b");
	ASSERT_TRUE(o.grace_s == 0.5);
	ASSERT_STREQ(o.command[1], "");
	rl_options_release(&o);
}

static void test_help_needs_no_command(void)
{
	struct rl_options o;
	char err[256] = "";
	ASSERT_EQ(parse(&o, err, ARGS("--help")), 0);
	ASSERT_EQ(o.action, RL_ACTION_HELP);
	rl_options_release(&o);
	ASSERT_EQ(parse(&o, err, ARGS("--version")), 0);
	ASSERT_EQ(o.action, RL_ACTION_VERSION);
	rl_options_release(&o);
}

/* Every flag the parser accepts is documented in --help. */
static void test_help_mentions_flags(void)
{
	const char *flags[] = { "--gpus-per-node", "--nproc-per-node", "--nodes", "--master-addr",
				"--master-port", "--cuda-visible-devices", "--cpu-affinity", "--env",
				"--net", "--run-id", "--rdzv-id", "--max-restarts", "--grace",
				"--prefix", "--no-prefix", "--local-ranks-filter", "--log-dir",
				"--dry-run", "--version", "--help", "--standalone", "--nnodes",
				"--node-rank" };
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		ASSERT_CONTAINS(rl_usage_text, flags[i]);
}

int main(void)
{
	RUN_TEST(test_defaults_and_command);
	RUN_TEST(test_torchrun_spellings);
	RUN_TEST(test_values);
	RUN_TEST(test_errors);
	RUN_TEST(test_spaces_where_allowed);
	RUN_TEST(test_help_needs_no_command);
	RUN_TEST(test_help_mentions_flags);
	TEST_MAIN_END();
}
