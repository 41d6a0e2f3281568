#include "rlaunch/hostlist.h"

#include <errno.h>

#include "test.h"

/* Expand list and compare with the space-separated names in want. */
static int expect_hosts(const char *list, const char *want)
{
	struct rl_strv out;
	char err[256] = "", got[4096] = "";
	size_t len = 0;
	int rc = rl_hostlist_expand(list, 100000, &out, err, sizeof(err));

	for (size_t i = 0; rc == 0 && i < out.n; i++)
		len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%s", i ? " " : "", out.v[i]);
	if (rc == 0 && out.v[out.n] != NULL)
		rc = -1000;
	rl_strv_release(&out);
	if (rc != 0 || strcmp(got, want) != 0) {
		fprintf(stderr, "  FAIL: '%s': rc=%d err='%s'\n    got  '%s'\n    want '%s'\n",
			list, rc, err, got, want);
		test_failures++;
		return -1;
	}
	return 0;
}

static void expect_error(const char *list, size_t max_hosts, int want_rc, const char *message)
{
	struct rl_strv out;
	char err[256] = "";
	int rc = rl_hostlist_expand(list, max_hosts, &out, err, sizeof(err));
	size_t n = out.n;

	rl_strv_release(&out);
	if (rc != want_rc || !strstr(err, message) || n != 0) {
		fprintf(stderr, "  FAIL: '%s': rc=%d n=%zu err='%s', expected rc=%d '%s'\n",
			list ? list : "(null)", rc, n, err, want_rc, message);
		test_failures++;
	}
}

static void test_brief_examples(void)
{
	expect_hosts("gpu[001-004,007],login1", "gpu001 gpu002 gpu003 gpu004 gpu007 login1");
	expect_hosts("n[1-3]", "n1 n2 n3");
	expect_hosts("a[1-2]-b[3-4]", "a1-b3 a1-b4 a2-b3 a2-b4");
	expect_hosts("rack[1-2]-n[01-02]", "rack1-n01 rack1-n02 rack2-n01 rack2-n02");
	expect_hosts("x[09-11]", "x09 x10 x11");
	expect_hosts("login1", "login1");
}

static void test_plain_hosts(void)
{
	expect_hosts("a,b,c", "a b c");
	expect_hosts("node-1.cluster.example,node-2", "node-1.cluster.example node-2");
	expect_hosts("10.0.0.1", "10.0.0.1");
	expect_hosts("x", "x");
}

static void test_padding(void)
{
	expect_hosts("g[001-010]", "g001 g002 g003 g004 g005 g006 g007 g008 g009 g010");
	expect_hosts("g[8-10]", "g8 g9 g10");
	expect_hosts("g[98-101]", "g98 g99 g100 g101");
	expect_hosts("g[7]", "g7");
	expect_hosts("g[007]", "g007");
	expect_hosts("g[0]", "g0");
	expect_hosts("g[00-01]", "g00 g01");
	/* padding is per range, from each lower bound as written */
	expect_hosts("g[1-2,003-004,05]", "g1 g2 g003 g004 g05");
	/* the upper bound's width does not matter */
	expect_hosts("g[1-010]", "g1 g2 g3 g4 g5 g6 g7 g8 g9 g10");
	expect_hosts("g[0000000000-0000000001]", "g0000000000 g0000000001");
	expect_hosts("g[9999999998-9999999999]", "g9999999998 g9999999999");
}

static void test_groups(void)
{
	/* leftmost group varies slowest; suffixes and infixes are kept */
	expect_hosts("r[1-2]n[1-3]", "r1n1 r1n2 r1n3 r2n1 r2n2 r2n3");
	expect_hosts("r[1,3]-n[5]-x", "r1-n5-x r3-n5-x");
	expect_hosts("[1-3]", "1 2 3");
	expect_hosts("[1-2]x", "1x 2x");
	expect_hosts("a[1-2][7-8]", "a17 a18 a27 a28");
	expect_hosts("a[1-2]b[3-4]c[5-6]",
		     "a1b3c5 a1b3c6 a1b4c5 a1b4c6 a2b3c5 a2b3c6 a2b4c5 a2b4c6");
	expect_hosts("a[1,2-3]-b[8-9,1]", "a1-b8 a1-b9 a1-b1 a2-b8 a2-b9 a2-b1 a3-b8 a3-b9 a3-b1");
}

static void test_order_and_duplicates(void)
{
	expect_hosts("n[3,1,2]", "n3 n1 n2");
	expect_hosts("n[1-2,1-2],n1", "n1 n2 n1 n2 n1");
	expect_hosts("b,a,b", "b a b");
	expect_hosts("n[2],m[1-2],n[1]", "n2 m1 m2 n1");
}

static void test_max_hosts(void)
{
	struct rl_strv out;
	char err[256] = "";

	ASSERT_EQ(rl_hostlist_expand("n[1-4],m", 5, &out, err, sizeof(err)), 0);
	ASSERT_EQ(out.n, 5);
	ASSERT_STREQ(out.v[4], "m");
	rl_strv_release(&out);
	ASSERT_EQ(rl_hostlist_expand("a", 1, &out, err, sizeof(err)), 0);
	ASSERT_EQ(out.n, 1);
	rl_strv_release(&out);
	expect_error("n[1-4],m", 4, -E2BIG, "expands to 5 hosts, more than 4");
	expect_error("a", 0, -E2BIG, "more than 0");
	expect_error("a[1-2]b[1-2]", 3, -E2BIG, "expands to 4 hosts");
	/* counted before anything is allocated: these would not fit in memory */
	expect_error("n[0-9999999999]", 1000, -E2BIG, "expands to 10000000000 hosts");
	expect_error("a[0-9999999999]b[0-9999999999]c[0-9999999999]", 1000, -E2BIG,
		     "expands to more than 1000 hosts");
	/* a syntax error anywhere wins over the size */
	expect_error("n[0-9999999999],m[", 1000, -EINVAL, "'[' without ']'");
}

static void test_large_expansion(void)
{
	struct rl_strv out;
	char err[256] = "";

	ASSERT_EQ(rl_hostlist_expand("n[00000-19999]", 20000, &out, err, sizeof(err)), 0);
	ASSERT_EQ(out.n, 20000);
	ASSERT_STREQ(out.v[0], "n00000");
	ASSERT_STREQ(out.v[12345], "n12345");
	ASSERT_STREQ(out.v[19999], "n19999");
	ASSERT_TRUE(out.v[20000] == NULL);
	rl_strv_release(&out);
}

static void test_name_length(void)
{
	char list[1000], want[600];

	/* 255 characters is fine, 256 is not, with or without brackets */
	memset(list, 'a', 255);
	list[255] = '\0';
	expect_hosts(list, list);
	memset(list, 'a', 256);
	list[256] = '\0';
	expect_error(list, 10, -EINVAL, "longer than 255 characters");

	/* the widest number a group prints counts, here "10" */
	memset(list, 'a', 254);
	strcpy(list + 254, "[8-10]");
	expect_error(list, 10, -EINVAL, "longer than 255 characters");
	memset(list, 'a', 253);
	strcpy(list + 253, "[8-10]");
	{
		struct rl_strv out;
		char err[256] = "";
		ASSERT_EQ(rl_hostlist_expand(list, 10, &out, err, sizeof(err)), 0);
		ASSERT_EQ(out.n, 3);
		ASSERT_EQ(strlen(out.v[0]), 254);
		ASSERT_EQ(strlen(out.v[2]), 255);
		ASSERT_STREQ(out.v[2] + 253, "10");
		rl_strv_release(&out);
	}
	/* many groups: each prints at least one character */
	for (int i = 0; i < 256; i++)
		memcpy(list + 3 * i, "[1]", 3);
	list[3 * 256] = '\0';
	expect_error(list, 10, -EINVAL, "longer than 255 characters");
	list[3 * 255] = '\0';
	memset(want, '1', 255);
	want[255] = '\0';
	expect_hosts(list, want);
}

static void test_empty(void)
{
	expect_error(NULL, 10, -EINVAL, "empty hostlist");
	expect_error("", 10, -EINVAL, "empty hostlist");
	expect_error(",", 10, -EINVAL, "has an empty item");
	expect_error("a,,b", 10, -EINVAL, "'a,,b' has an empty item");
	expect_error(",a", 10, -EINVAL, "has an empty item");
	expect_error("a,", 10, -EINVAL, "has an empty item");
	expect_error("a[]", 10, -EINVAL, "item 'a[]' has an empty '[]'");
	expect_error("a[1,]", 10, -EINVAL, "item 'a[1,]' has an empty range");
	expect_error("a[,1]", 10, -EINVAL, "has an empty range");
	expect_error("a[1,,2]", 10, -EINVAL, "has an empty range");
}

static void test_brackets(void)
{
	expect_error("a[1-2", 10, -EINVAL, "item 'a[1-2' has a '[' without ']'");
	expect_error("a[1-2,b", 10, -EINVAL, "has a '[' without ']'");
	expect_error("a[", 10, -EINVAL, "has a '[' without ']'");
	expect_error("[", 10, -EINVAL, "has a '[' without ']'");
	expect_error("a1-2]", 10, -EINVAL, "item 'a1-2]' has a ']' without '['");
	expect_error("]", 10, -EINVAL, "has a ']' without '['");
	expect_error("a[1]]", 10, -EINVAL, "has a ']' without '['");
	expect_error("b,a]1,c", 10, -EINVAL, "item 'a]1' has a ']' without '['");
	expect_error("a[1[2]]", 10, -EINVAL, "item 'a[1[2]]' has nested brackets");
	expect_error("a[[1]]", 10, -EINVAL, "has nested brackets");
	expect_error("a[1][", 10, -EINVAL, "has a '[' without ']'");
	/* the first bad item is the one named */
	expect_error("ok[1-2],bad[3-1],worse[", 10, -EINVAL, "item 'bad[3-1]'");
}

static void test_ranges(void)
{
	expect_error("a[3-1]", 10, -EINVAL, "item 'a[3-1]': range '3-1' has lo > hi");
	expect_error("a[010-009]", 10, -EINVAL, "range '010-009' has lo > hi");
	expect_error("a[1-2,5-4]", 10, -EINVAL, "range '5-4' has lo > hi");
	expect_error("a[x]", 10, -EINVAL, "item 'a[x]': 'x' is not a number");
	expect_error("a[1-x]", 10, -EINVAL, "'1-x' is not a number");
	expect_error("a[x-1]", 10, -EINVAL, "'x-1' is not a number");
	expect_error("a[1-]", 10, -EINVAL, "'1-' is not a number");
	expect_error("a[-1]", 10, -EINVAL, "'-1' is not a number");
	expect_error("a[-]", 10, -EINVAL, "'-' is not a number");
	expect_error("a[1-2-3]", 10, -EINVAL, "'1-2-3' is not a number");
	expect_error("a[+1]", 10, -EINVAL, "'+1' is not a number");
	expect_error("a[0x1]", 10, -EINVAL, "'0x1' is not a number");
	expect_error("a[1:2]", 10, -EINVAL, "'1:2' is not a number");
	expect_error("a[1-10:2]", 10, -EINVAL, "'1-10:2' is not a number");
	expect_error("a[1.5]", 10, -EINVAL, "'1.5' is not a number");
}

static void test_too_large(void)
{
	expect_error("a[12345678901]", 10, -EINVAL, "'12345678901' has a number of more than 10 digits");
	expect_error("a[1-12345678901]", 10, -EINVAL, "has a number of more than 10 digits");
	expect_error("a[00000000001]", 10, -EINVAL, "more than 10 digits");
	expect_error("a[99999999999999999999999999]", 10, -EINVAL, "more than 10 digits");
	expect_hosts("a[9999999999]", "a9999999999");
}

static void test_bad_characters(void)
{
	expect_error("a, b", 10, -EINVAL, "item ' b' has a space or control character");
	expect_error("a b", 10, -EINVAL, "has a space or control character");
	expect_error("a\n", 10, -EINVAL, "item 'a?' has a space or control character");
	expect_error("a\tb", 10, -EINVAL, "has a space or control character");
	expect_error("a[1, 2]", 10, -EINVAL, "' 2' is not a number");
}

static void test_error_quotes_are_bounded(void)
{
	char list[2000], err[256] = "";
	struct rl_strv out;

	memset(list, 'a', 1000);
	strcpy(list + 1000, "[x]");
	ASSERT_EQ(rl_hostlist_expand(list, 10, &out, err, sizeof(err)), -EINVAL);
	ASSERT_CONTAINS(err, "...");
	ASSERT_CONTAINS(err, "'x' is not a number");
	rl_strv_release(&out);
	/* a tiny or absent error buffer is fine */
	ASSERT_EQ(rl_hostlist_expand("a[", 10, &out, err, 4), -EINVAL);
	ASSERT_EQ(strlen(err), 3);
	rl_strv_release(&out);
	ASSERT_EQ(rl_hostlist_expand("a[", 10, &out, NULL, 0), -EINVAL);
	rl_strv_release(&out);
}

static void test_release_twice(void)
{
	struct rl_strv out;
	char err[256];

	ASSERT_EQ(rl_hostlist_expand("a[", 10, &out, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(out.n, 0);
	rl_strv_release(&out);
	rl_strv_release(&out);
	ASSERT_EQ(rl_hostlist_expand("a", 10, &out, err, sizeof(err)), 0);
	rl_strv_release(&out);
	rl_strv_release(&out);
}

/* Deterministic junk over the hostlist alphabet: nothing may crash, and
 * every success must respect the limits.
 */
static void test_junk_does_not_crash(void)
{
	static const char alphabet[] = "ab01239[]-,[]-, \x01\xff";
	unsigned long long seed = 12345;
	char list[64], err[256];
	struct rl_strv out;

	for (int round = 0; round < 200000; round++) {
		size_t len = (size_t)(round % 40);

		for (size_t i = 0; i < len; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			list[i] = alphabet[(seed >> 33) % (sizeof(alphabet) - 1)];
		}
		list[len] = '\0';
		int rc = rl_hostlist_expand(list, 1000, &out, err, sizeof(err));
		if (rc == 0) {
			ASSERT_TRUE(out.n >= 1 && out.n <= 1000);
			for (size_t i = 0; i < out.n; i++)
				ASSERT_TRUE(strlen(out.v[i]) >= 1 && strlen(out.v[i]) <= 255);
		} else {
			ASSERT_TRUE(rc == -EINVAL || rc == -E2BIG);
			ASSERT_TRUE(out.n == 0);
			ASSERT_TRUE(err[0] != '\0');
		}
		rl_strv_release(&out);
	}
}

int main(void)
{
	RUN_TEST(test_brief_examples);
	RUN_TEST(test_plain_hosts);
	RUN_TEST(test_padding);
	RUN_TEST(test_groups);
	RUN_TEST(test_order_and_duplicates);
	RUN_TEST(test_max_hosts);
	RUN_TEST(test_large_expansion);
	RUN_TEST(test_name_length);
	RUN_TEST(test_empty);
	RUN_TEST(test_brackets);
	RUN_TEST(test_ranges);
	RUN_TEST(test_too_large);
	RUN_TEST(test_bad_characters);
	RUN_TEST(test_error_quotes_are_bounded);
	RUN_TEST(test_release_twice);
	RUN_TEST(test_junk_does_not_crash);
	TEST_MAIN_END();
}
