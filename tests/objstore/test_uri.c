/* test_uri.c - size and URI parameter parsing shared by all backends. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "objstore/backend.h"

static void parse_size_accepts_suffixes(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(objstore_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(objstore_parse_size("2K", &v), 0);
	assert_int_equal(v, 2048);
	assert_int_equal(objstore_parse_size("3MiB", &v), 0);
	assert_int_equal(v, 3u << 20);
	assert_int_equal(objstore_parse_size("1G", &v), 0);
	assert_int_equal(v, 1u << 30);
}

static void parse_size_rejects_garbage(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(objstore_parse_size("", &v), -EINVAL);
	assert_int_equal(objstore_parse_size("-1", &v), -EINVAL);
	assert_int_equal(objstore_parse_size("12Q", &v), -EINVAL);
	assert_int_equal(objstore_parse_size("99999999999T", &v), -EINVAL);
	assert_int_equal(objstore_parse_size("1KX", &v), -EINVAL);
}

static void uri_params_found_and_unknown_keys_rejected(void **state)
{
	static const char *const known[] = { "size", "sync", NULL };
	struct mixfs_err err = { 0 };
	char val[16];

	(void)state;
	assert_int_equal(objstore_uri_param("size=10M&sync=1", "sync", val,
					    sizeof(val)), 1);
	assert_string_equal(val, "1");
	assert_int_equal(objstore_uri_param("size=10M", "sync", val,
					    sizeof(val)), 0);
	assert_int_equal(objstore_uri_check_keys("size=1&sync=0", known, &err), 0);
	assert_int_equal(objstore_uri_check_keys("bogus=1", known, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "bogus"));
}

static void open_unknown_scheme_fails_einval(void **state)
{
	struct mixfs_err err = { 0 };
	struct objstore *s;

	(void)state;
	assert_int_equal(objstore_open("nosuch:/x", 0, &s, &err), -EINVAL);
	assert_null(s);
	assert_non_null(strstr(err.msg, "nosuch"));
	mixfs_err_clear(&err);
	assert_int_equal(objstore_open("noscheme", 0, &s, &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_size_accepts_suffixes),
		cmocka_unit_test(parse_size_rejects_garbage),
		cmocka_unit_test(uri_params_found_and_unknown_keys_rejected),
		cmocka_unit_test(open_unknown_scheme_fails_einval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
