#include "rlaunch/cuda_devices.h"
#include "test.h"

static int parse(struct rl_cuda_devices *d, const char *v, char *err)
{
	return rl_cuda_devices_parse(d, v, err, 256);
}

static void test_unset_and_empty(void)
{
	struct rl_cuda_devices d;
	char err[256];
	ASSERT_EQ(parse(&d, NULL, err), 0);
	ASSERT_TRUE(!d.set);
	ASSERT_EQ(rl_cuda_devices_count(&d), 0);
	rl_cuda_devices_release(&d);
	ASSERT_EQ(parse(&d, "", err), 0);
	ASSERT_TRUE(d.set);
	ASSERT_EQ(rl_cuda_devices_count(&d), 0);
	rl_cuda_devices_release(&d);
}

static void test_indices(void)
{
	struct rl_cuda_devices d;
	char err[256];
	ASSERT_EQ(parse(&d, "4,5,6,7", err), 0);
	ASSERT_EQ(rl_cuda_devices_count(&d), 4);
	ASSERT_STREQ(d.entries.v[0], "4");
	ASSERT_STREQ(d.entries.v[3], "7");
	ASSERT_TRUE(!d.has_uuids);
	rl_cuda_devices_release(&d);
}

static void test_uuids_are_valid(void)
{
	struct rl_cuda_devices d;
	char err[256];
	ASSERT_EQ(parse(&d, "GPU-8d2f1c3a-1b2c-4d5e-8f90-a1b2c3d4e5f6,MIG-0a1b2c3d-4e5f-6789-abcd-ef0123456789", err), 0);
	ASSERT_EQ(rl_cuda_devices_count(&d), 2);
	ASSERT_TRUE(d.has_uuids);
	rl_cuda_devices_release(&d);
	ASSERT_EQ(parse(&d, "MIG-GPU-8d2f1c3a-1b2c-4d5e-8f90-a1b2c3d4e5f6/1/0", err), 0);
	ASSERT_TRUE(d.has_uuids);
	rl_cuda_devices_release(&d);
}

/* Only equal values are duplicates: "10" and "1" or a UUID holding "0" are not. */
static void test_distinct_indices(void)
{
	struct rl_cuda_devices d;
	char err[256];
	ASSERT_EQ(parse(&d, "1,10,01000,GPU-00000000", err), 0);
	ASSERT_EQ(rl_cuda_devices_count(&d), 4);
	ASSERT_STREQ(d.entries.v[2], "01000");
	rl_cuda_devices_release(&d);
}

static void expect_invalid(const char *value, const char *message)
{
	struct rl_cuda_devices d;
	char err[256] = "";
	int rc = parse(&d, value, err);
	rl_cuda_devices_release(&d);
	if (rc != -22 || !strstr(err, message)) {
		fprintf(stderr, "  FAIL: '%s': rc=%d err='%s', expected '%s'\n", value, rc, err, message);
		test_failures++;
	}
}

static void test_invalid(void)
{
	expect_invalid("0,,x", "empty entry");
	expect_invalid("0,x", "'x' is neither");
	expect_invalid(",0", "empty entry");
	expect_invalid("0,", "empty entry");
	expect_invalid("-1", "'-1' is neither");
	expect_invalid("0, 1", "' 1' is neither");
	expect_invalid("NoDevFiles", "is neither");
	expect_invalid("GPU-zz", "is neither");
	expect_invalid("1,1", "lists the same GPU twice ('1' and '1')");
	expect_invalid("0,00", "lists the same GPU twice ('0' and '00')");
	expect_invalid("3,1,003", "lists the same GPU twice ('3' and '003')");
	expect_invalid("GPU-8d2f1c3a-1b2c,0,GPU-8d2f1c3a-1b2c", "lists the same GPU twice");
	expect_invalid("99999999", "is neither");
}

int main(void)
{
	RUN_TEST(test_unset_and_empty);
	RUN_TEST(test_indices);
	RUN_TEST(test_uuids_are_valid);
	RUN_TEST(test_distinct_indices);
	RUN_TEST(test_invalid);
	TEST_MAIN_END();
}
