/*
 * fuzz_linear.c - libFuzzer target for the linear strategy: the input is
 * a directory stream (512-byte blocks); every call must answer 0, -ENOENT,
 * -EEXIST or -EUCLEAN and never crash. Built only with clang:
 *
 *   CC=clang meson setup build-fuzz -Db_sanitize=address,undefined \
 *     -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link
 *   ninja -C build-fuzz tests/dirlib/fuzz_linear
 *   build-fuzz/tests/dirlib/fuzz_linear -max_total_time=60
 *
 * The default test run fuzzes with its own generator (test_corrupt.c).
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_entry(void *arg, const struct dir_entry *e)
{
	if (e->namelen == 0 || strlen(e->name) != e->namelen)
		abort();
	++*(uint64_t *)arg;
	return 0;
}

static void check(int ret)
{
	if (ret && ret != -ENOENT && ret != -EEXIST && ret != -EUCLEAN &&
	    ret != -ENOSPC)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tb_memstream m;
	struct dir d;
	uint64_t count, listed = 0;

	tb_memstream_init(&m, 512);
	tb_memstream_set(&m, data, size);
	if (dir_linear_init(&d, &m.s, NULL) == 0 &&
	    dir_count(&d, &count, NULL) == 0) {
		if (dir_iterate(&d, 0, count_entry, &listed, NULL) ||
		    listed != count)
			abort();
		check(dir_insert(&d, "fuzz", 4, 1, DT_REG, NULL));
		check(dir_remove(&d, "a", 1, NULL, NULL));
		dir_stream_release(&m.s);
		check(dir_count(&d, &count, NULL));
		dir_release(&d);
	}
	tb_memstream_release(&m);
	return 0;
}
