/*
 * test_fragmentation.c - a churn workload (the one tools/bench_alloc.c
 * runs at full size, here on 128 Ki blocks): four writers append 64 KiB at
 * a time to new files near their directory's area, the space is filled to
 * 90 % and then files are deleted and rewritten at random.
 *
 * What it proves: after all that the map agrees exactly with the files'
 * extents (balloc_check finds nothing), the counts add up, and deleting
 * every file coalesces the space back into one free extent. How contiguous
 * the files stayed (mean extents per 1 MiB file) is printed as a TAP
 * comment for each implementation: a figure, not an assertion.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloclib/balloc.h"

#define N (128u << 10)
#define BS 4096
#define MIB_BLOCKS 256
#define MAX_FILES 8192

struct file {
	uint64_t size, written, goal;
	uint32_t next;
	struct balloc_extent ext[64];	/* fragmenting past this fails */
};

struct churn {
	struct balloc a;
	struct file *files;
	uint64_t nfiles, used, rng;
	uint64_t mib_files, mib_extents;
	int counting;
};

static uint64_t below(struct churn *c, uint64_t n)
{
	c->rng = c->rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (c->rng >> 33) % n;
}

static uint64_t file_size(struct churn *c)
{
	uint64_t p = below(c, 100);

	if (p < 55)
		return 1 + below(c, 16);
	if (p < 85)
		return 17 + below(c, 240);
	if (p < 95)
		return MIB_BLOCKS;
	return 257 + below(c, 1024);
}

static void append(struct churn *c, struct file *f)
{
	uint64_t want = f->size - f->written;
	struct mixfs_err err = { 0 };
	struct balloc_extent x;
	int ret;

	if (want > 16)
		want = 16;
	while (want) {
		ret = balloc_alloc(&c->a, NULL, f->goal, 1, want, &x, &err);
		if (ret != 0)
			fail_msg("%s: append: %s", balloc_kind(&c->a),
				 mixfs_err_msg(&err, ret));
		if (f->next && f->ext[f->next - 1].start +
			       f->ext[f->next - 1].len == x.start) {
			f->ext[f->next - 1].len += x.len;
		} else {
			if (f->next == 64)
				fail_msg("%s: a file of %lu blocks in more than 64 extents",
					 balloc_kind(&c->a), (unsigned long)f->size);
			f->ext[f->next++] = x;
		}
		f->goal = x.start + x.len;
		f->written += x.len;
		c->used += x.len;
		want -= x.len;
	}
}

static void write_four(struct churn *c)
{
	struct file *fs[4];
	int i, done = 0;

	assert_true(c->nfiles + 4 <= MAX_FILES);
	for (i = 0; i < 4; i++) {
		fs[i] = &c->files[c->nfiles++];
		memset(fs[i], 0, sizeof(*fs[i]));
		fs[i]->size = file_size(c);
		fs[i]->goal = below(c, 16) * (N / 16);
	}
	while (done < 4) {
		done = 0;
		for (i = 0; i < 4; i++) {
			if (fs[i]->written == fs[i]->size)
				done++;
			else
				append(c, fs[i]);
		}
	}
	for (i = 0; c->counting && i < 4; i++) {
		if (fs[i]->size == MIB_BLOCKS) {
			c->mib_files++;
			c->mib_extents += fs[i]->next;
		}
	}
}

static void delete_file(struct churn *c, uint64_t k)
{
	struct file *f = &c->files[k];
	struct mixfs_err err = { 0 };
	uint32_t i;
	int ret;

	for (i = 0; i < f->next; i++) {
		ret = balloc_free(&c->a, f->ext[i].start, f->ext[i].len, &err);
		if (ret != 0)
			fail_msg("%s: delete: %s", balloc_kind(&c->a),
				 mixfs_err_msg(&err, ret));
	}
	c->used -= f->size;
	c->files[k] = c->files[--c->nfiles];
}

static void check_against_files(struct churn *c)
{
	struct balloc_extent *all;
	size_t n = 0;
	uint64_t k, sum = 0;
	uint32_t i;
	int ret;

	all = malloc(MAX_FILES * 64 * sizeof(*all));
	assert_non_null(all);
	for (k = 0; k < c->nfiles; k++) {
		uint64_t len = 0;

		for (i = 0; i < c->files[k].next; i++) {
			all[n++] = c->files[k].ext[i];
			len += c->files[k].ext[i].len;
		}
		assert_int_equal(len, c->files[k].size);
		sum += len;
	}
	assert_int_equal(sum, c->used);
	assert_int_equal(balloc_count_free(&c->a), N - c->used);
	ret = balloc_check(&c->a, all, n, NULL, NULL, NULL);
	if (ret != 0)
		fail_msg("%s: map and files disagree in %d ranges",
			 balloc_kind(&c->a), ret);
	free(all);
}

static void churn(const char *kind)
{
	struct churn c = { .rng = 12345 };
	uint64_t target = N / 10 * 9, written = 0;

	c.files = malloc(MAX_FILES * sizeof(*c.files));
	assert_non_null(c.files);
	assert_int_equal(balloc_init(&c.a, kind, N, BS, NULL), 0);
	while (c.used + 4 * 1280 < target)
		write_four(&c);
	c.counting = 1;
	while (written < 3 * (uint64_t)N) {
		uint64_t before;

		while (c.used + 4 * 1280 >= target)
			delete_file(&c, below(&c, c.nfiles));
		before = c.used;
		write_four(&c);
		written += c.used - before;
	}
	check_against_files(&c);
	printf("# %s: mean extents per 1 MiB file after churn %.2f (%lu files)\n",
	       kind, (double)c.mib_extents / (double)c.mib_files,
	       (unsigned long)c.mib_files);
	assert_true(c.mib_files > 100);
	while (c.nfiles)
		delete_file(&c, below(&c, c.nfiles));
	assert_int_equal(balloc_count_free(&c.a), N);
	assert_int_equal(balloc_largest_free(&c.a), N);
	balloc_release(&c.a);
	free(c.files);
}

static void bitmap_churn_keeps_map_and_files_in_agreement(void **state)
{
	(void)state;
	churn("bitmap");
}

static void extent_churn_keeps_map_and_files_in_agreement(void **state)
{
	(void)state;
	churn("extent");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bitmap_churn_keeps_map_and_files_in_agreement),
		cmocka_unit_test(extent_churn_keeps_map_and_files_in_agreement),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
