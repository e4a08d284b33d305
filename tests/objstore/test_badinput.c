/*
 * test_badinput.c - malformed URIs for every backend fail -EINVAL with a
 * message naming what is wrong and create nothing; malformed faulty plans
 * are refused term by term; huge offsets on dir: give -EFBIG or work,
 * without crashes or giant allocations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "objstore/objstore_faulty.h"

#define CHECK(call) do {						\
	long r_ = (long)(call);						\
	if (r_ < 0)							\
		fail_msg("%s failed: %s", #call, strerror((int)-r_));	\
} while (0)

#define CHECK_ERR(call, want) do {					\
	long r_ = (long)(call);						\
	if (r_ != (want))						\
		fail_msg("%s returned %ld (%s), expected %s", #call, r_,	\
			 r_ < 0 ? strerror((int)-r_) : "success", #want);	\
} while (0)

static char top[256];

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static int group_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	snprintf(top, sizeof(top), "%s/mixfs-badinput-XXXXXX",
		 tmp ? tmp : "/tmp");
	return mkdtemp(top) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* Open @fmt (with %s the test directory) and expect -EINVAL with a
 * message holding @needle. */
static void expect_einval(const char *fmt, const char *needle)
{
	struct mixfs_err err = { 0 };
	struct objstore *s = (struct objstore *)1;
	char uri[512];
	int ret;

	snprintf(uri, sizeof(uri), fmt, top);
	ret = objstore_open(uri, OBJSTORE_OPEN_CREATE, &s, &err);
	if (ret != -EINVAL) {
		if (!ret)
			objstore_close(s);
		fail_msg("opening '%s' returned %d, expected -EINVAL", uri, ret);
	}
	assert_null(s);
	if (!strstr(err.msg, needle))
		fail_msg("opening '%s': message '%s' does not mention '%s'", uri,
			 err.msg, needle);
}

/* --- URIs ---------------------------------------------------------------- */

static void unknown_or_missing_scheme_fails_einval(void **state)
{
	(void)state;
	expect_einval("nosuch:%s", "nosuch");
	expect_einval("%s", "scheme");
	expect_einval("", "scheme");
	expect_einval(":mem:", "scheme");
	expect_einval("DIR:%s/x", "DIR");
}

static void missing_path_fails_einval(void **state)
{
	(void)state;
	expect_einval("dir:", "directory");
	expect_einval("dir:?size=1G", "directory");
	expect_einval("rocksdb:", "path");
	expect_einval("mem:%s/x", "path");	/* mem: takes none */
}

static void unknown_parameters_fail_einval(void **state)
{
	(void)state;
	expect_einval("mem:?bogus=1", "bogus");
	expect_einval("dir:%s/d1?bogus=1", "bogus");
	expect_einval("dir:%s/d1?size=1G&colour=red", "colour");
	expect_einval("dir:%s/d1?size", "size");
	expect_einval("rocksdb:%s/r1?bogus=1", "bogus");
}

static void bad_sizes_fail_einval_and_create_nothing(void **state)
{
	static const char *const sizes[] = {
		"12Q", "", "-1", "1.5G", "99999999999999T", "0x10", "1K2",
	};
	char fmt[128], path[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(fmt, sizeof(fmt), "mem:?size=%s", sizes[i]);
		expect_einval(fmt, "size");
		snprintf(fmt, sizeof(fmt), "dir:%%s/d2?size=%s", sizes[i]);
		expect_einval(fmt, "size");
		snprintf(fmt, sizeof(fmt), "rocksdb:%%s/r2?size=%s", sizes[i]);
		expect_einval(fmt, "size");
	}
	snprintf(path, sizeof(path), "%s/d2", top);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/r2", top);
	assert_int_equal(access(path, F_OK), -1);
}

/* --- faulty: ------------------------------------------------------------- */

static void faulty_without_inner_uri_fails_einval(void **state)
{
	(void)state;
	expect_einval("faulty:", "inner");
	expect_einval("faulty:nth=1", "inner");
	expect_einval("faulty:nth=1:", "inner");
	expect_einval("faulty:nth=1:nosuch:x", "nosuch");
	expect_einval("faulty:nth=1:dir:", "directory");
}

static void faulty_garbage_specs_fail_einval_naming_the_term(void **state)
{
	static const struct { const char *spec, *needle; } cases[] = {
		{ "garbage", "garbage" }, { "nth", "nth" },
		{ "nth=0", "nth" }, { "nth=x", "nth" }, { "nth=-1", "nth" },
		{ "nth=99999999999999999999999", "nth" },
		{ "p=2", "p=" }, { "p=-0.5", "p=" }, { "p=nan", "p=" },
		{ "p=0.5x", "p=" }, { "errno=EWHAT", "EWHAT" },
		{ "errno=0", "errno" }, { "errno=5000", "errno" },
		{ "delay=5parsecs", "delay" }, { "delay=ms", "delay" },
		{ "op=frobnicate", "frobnicate" }, { "op=read+", "op" },
		{ "op=", "op" }, { "op=read++write", "op" },
		{ "count=0", "count" }, { "after=", "after" },
		{ "nth=1,after=2", "nth" }, { "nth=1,p=0.5", "nth" },
		{ "nth=1,nth=2", "twice" }, { "colour=red", "colour" },
		{ ";", "empty" }, { "nth=1;", "empty" }, { ";nth=1", "empty" },
		{ "nth=1,,op=read", "not key=value" }, { "none;nth=1", "none" },
		{ "NTH=1", "NTH" },
	};
	struct objstore *s;
	char fmt[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mixfs_err err = { 0 };

		snprintf(fmt, sizeof(fmt), "faulty:%s:mem:", cases[i].spec);
		expect_einval(fmt, cases[i].needle);
		/* The same text is refused at run time too. */
		s = NULL;
		CHECK(objstore_open("faulty::mem:", 0, &s, NULL));
		CHECK_ERR(objstore_faulty_set_plan(s, cases[i].spec, &err),
			  -EINVAL);
		CHECK(objstore_close(s));
	}
}

static void nested_faulty_stores_stack_and_check_each_spec(void **state)
{
	struct objstore *s, *mid;
	struct objstore_stat st;
	char buf[4];

	(void)state;
	expect_einval("faulty::faulty:bad:mem:", "bad");
	expect_einval("faulty:op=read:faulty:nth=1", "inner");
	CHECK(objstore_open("faulty:op=stat:faulty:op=read:mem:", 0, &s, NULL));
	mid = objstore_faulty_inner(s);
	assert_true(objstore_is_faulty(mid));
	assert_false(objstore_is_faulty(objstore_faulty_inner(mid)));
	CHECK(objstore_create(s, 1, NULL));
	CHECK_ERR(objstore_stat(s, 1, &st, NULL), -EIO);	/* outer */
	CHECK_ERR(objstore_read(s, 1, 0, buf, 4, NULL), -EIO);	/* inner */
	CHECK(objstore_stat(mid, 1, &st, NULL));
	CHECK(objstore_close(s));
}

/* --- huge offsets on dir: ------------------------------------------------- */

static void huge_offsets_on_dir_give_efbig_or_work_without_giant_use(void **state)
{
	const uint64_t max = OBJSTORE_MAX_SIZE;
	struct objstore_stat st;
	struct rusage ru;
	char uri[300], buf[4096];
	struct objstore *s;
	int i;

	(void)state;
	snprintf(uri, sizeof(uri), "dir:%s/huge", top);
	CHECK(objstore_open(uri, OBJSTORE_OPEN_CREATE, &s, NULL));
	CHECK(objstore_create(s, 1, NULL));
	/* Past the largest object: refused before any I/O. */
	CHECK_ERR(objstore_write(s, 1, max - 1, "ab", 2, NULL), -EFBIG);
	CHECK_ERR(objstore_write(s, 1, UINT64_MAX - 1, "ab", 2, NULL), -EFBIG);
	CHECK_ERR(objstore_truncate(s, 1, max + 1, NULL), -EFBIG);
	CHECK_ERR(objstore_punch(s, 1, UINT64_MAX, 2, NULL), -EFBIG);
	CHECK(objstore_stat(s, 1, &st, NULL));
	assert_int_equal(st.size, 0);
	/* The last byte of the largest object is a byte like any other. */
	CHECK(objstore_write(s, 1, max - 1, "z", 1, NULL));
	CHECK(objstore_stat(s, 1, &st, NULL));
	assert_int_equal(st.size, max);
	CHECK_ERR(objstore_read(s, 1, max - 1, buf, sizeof(buf), NULL), 1);
	assert_int_equal(buf[0], 'z');
	CHECK_ERR(objstore_read(s, 1, max, buf, sizeof(buf), NULL), 0);
	CHECK_ERR(objstore_read(s, 1, UINT64_MAX, buf, sizeof(buf), NULL), 0);
	/* Down to 2^59 and read the end back as zeros, many times over. */
	CHECK(objstore_truncate(s, 1, max >> 1, NULL));
	for (i = 0; i < 64; i++) {
		memset(buf, 0x55, sizeof(buf));
		CHECK_ERR(objstore_read(s, 1, (max >> 1) - 4096 - i * 4096, buf,
					sizeof(buf), NULL), 4096);
		assert_int_equal(buf[0] | buf[4095], 0);
	}
	CHECK(objstore_stat(s, 1, &st, NULL));
	assert_int_equal(st.size, max >> 1);
	assert_int_equal(st.allocated, 0);
	CHECK(objstore_punch(s, 1, 0, max, NULL));
	CHECK(objstore_close(s));
	/* None of that needed real memory. */
	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	if (ru.ru_maxrss > 512 * 1024)
		fail_msg("peak memory %ld KiB", ru.ru_maxrss);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unknown_or_missing_scheme_fails_einval),
		cmocka_unit_test(missing_path_fails_einval),
		cmocka_unit_test(unknown_parameters_fail_einval),
		cmocka_unit_test(bad_sizes_fail_einval_and_create_nothing),
		cmocka_unit_test(faulty_without_inner_uri_fails_einval),
		cmocka_unit_test(faulty_garbage_specs_fail_einval_naming_the_term),
		cmocka_unit_test(nested_faulty_stores_stack_and_check_each_spec),
		cmocka_unit_test(huge_offsets_on_dir_give_efbig_or_work_without_giant_use),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
