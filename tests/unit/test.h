/* A minimal in-tree test harness (libuv's test/task.h in spirit): assertion
 * macros that print both sides and file:line, one process per test binary,
 * a non-zero exit on the first failed assertion of a test.
 */
#ifndef RLAUNCH_TEST_H
#define RLAUNCH_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static int test_count;

#define TEST_FAIL(fmt, ...)                                                          \
	do {                                                                         \
		fprintf(stderr, "  FAIL %s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__); \
		test_failures++;                                                     \
		return;                                                              \
	} while (0)

#define ASSERT_TRUE(c)                                                               \
	do {                                                                         \
		if (!(c))                                                            \
			TEST_FAIL("%s is false", #c);                                \
	} while (0)

#define ASSERT_EQ(a, b)                                                              \
	do {                                                                         \
		long long a_ = (long long)(a), b_ = (long long)(b);                  \
		if (a_ != b_)                                                        \
			TEST_FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);         \
	} while (0)

#define ASSERT_STREQ(a, b)                                                           \
	do {                                                                         \
		const char *a_ = (a), *b_ = (b);                                     \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                               \
			TEST_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b,              \
				  a_ ? a_ : "(null)", b_ ? b_ : "(null)");           \
	} while (0)

#define ASSERT_CONTAINS(hay, needle)                                                 \
	do {                                                                         \
		const char *h_ = (hay), *n_ = (needle);                              \
		if (!h_ || !strstr(h_, n_))                                          \
			TEST_FAIL("\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)", n_); \
	} while (0)

#define RUN_TEST(fn)                                                                 \
	do {                                                                         \
		int before_ = test_failures;                                         \
		test_count++;                                                        \
		fn();                                                                \
		fprintf(stderr, "%s %s\n", test_failures == before_ ? "ok  " : "FAIL", #fn); \
	} while (0)

#define TEST_MAIN_END()                                                              \
	do {                                                                         \
		fprintf(stderr, "%d tests, %d failed\n", test_count, test_failures); \
		return test_failures ? 1 : 0;                                        \
	} while (0)

#endif
