/*
 * test_conformance.c - the behaviour every allocator promises (balloc.h),
 * run against each implementation; case names start with the
 * implementation's name.
 *
 * Placement tests check only what balloc.h promises for both (the goal
 * when it is free; a run long enough when one exists); the policies differ
 * beyond that.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloclib/balloc.h"

#define N 5000		/* blocks; with 64-byte blocks, 10 groups of 512 */
#define BS 64

struct fix {
	const char *kind;
	struct balloc a;
};

static int setup_kind(void **state, const char *kind)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->kind = kind;
	if (balloc_init(&f->a, kind, N, BS, NULL) != 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int setup_bitmap(void **state)
{
	return setup_kind(state, "bitmap");
}

static int setup_extent(void **state)
{
	return setup_kind(state, "extent");
}

static int teardown(void **state)
{
	struct fix *f = *state;

	balloc_release(&f->a);
	free(f);
	return 0;
}

/* --- helpers --------------------------------------------------------- */

struct exts {
	struct balloc_extent v[N];
	size_t n;
};

static int collect(void *arg, uint64_t start, uint64_t len)
{
	struct exts *e = arg;

	if (e->n == N)
		return -E2BIG;
	e->v[e->n].start = start;
	e->v[e->n].len = len;
	e->n++;
	return 0;
}

static struct exts *free_extents(const struct balloc *a, uint64_t from)
{
	struct exts *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(balloc_iterate_free(a, from, collect, e), 0);
	return e;
}

static void take(struct balloc *a, uint64_t start, uint64_t len)
{
	struct mixfs_err err = { 0 };
	int ret = balloc_alloc_at(a, NULL, start, len, &err);

	if (ret != 0)
		fail_msg("alloc_at %lu+%lu: %s", (unsigned long)start,
			 (unsigned long)len, mixfs_err_msg(&err, ret));
}

/* Allocate whatever is still free. */
static void fill(struct balloc *a)
{
	struct balloc_extent x;

	while (balloc_alloc(a, NULL, 0, 1, N, &x, NULL) == 0)
		;
	assert_int_equal(balloc_count_free(a), 0);
}

/* Leave free only runs of @run blocks, separated by one used block
 * (where blocks were free). */
static void comb(struct balloc *a, uint64_t run)
{
	uint64_t b;

	for (b = run; b < N; b += run + 1)
		if (balloc_is_free(a, b, 1, NULL) == 1)
			take(a, b, 1);
}

/* --- lifecycle and queries ------------------------------------------- */

static void new_allocator_is_all_free(void **state)
{
	struct fix *f = *state;
	struct balloc_stat st;
	struct exts *e;

	balloc_stat(&f->a, &st);
	assert_int_equal(st.nblocks, N);
	assert_int_equal(st.block_size, BS);
	assert_int_equal(st.free, N);
	assert_int_equal(st.available, N);
	assert_int_equal(st.reserved, 0);
	assert_true(st.mem_bytes > 0);
	assert_string_equal(balloc_kind(&f->a), f->kind);
	assert_int_equal(balloc_largest_free(&f->a), N);
	assert_int_equal(balloc_is_free(&f->a, 0, N, NULL), 1);
	e = free_extents(&f->a, 0);
	assert_int_equal(e->n, 1);
	assert_int_equal(e->v[0].start, 0);
	assert_int_equal(e->v[0].len, N);
	free(e);
}

static void init_rejects_bad_arguments(void **state)
{
	struct fix *f = *state;
	struct mixfs_err err = { 0 };
	struct balloc b;

	assert_int_equal(balloc_init(&b, "nosuch", N, BS, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "nosuch"));
	mixfs_err_clear(&err);
	assert_int_equal(balloc_init(&b, f->kind, N, 1000, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "1000"));
	assert_int_equal(balloc_init(&b, f->kind, N, 32, NULL), -EINVAL);
	assert_int_equal(balloc_init(&b, f->kind, 0, BS, NULL), -EINVAL);
	balloc_release(&b);	/* harmless on a failed init */
}

static void is_free_answers_for_ranges(void **state)
{
	struct fix *f = *state;
	struct mixfs_err err = { 0 };

	take(&f->a, 100, 10);
	assert_int_equal(balloc_is_free(&f->a, 90, 10, NULL), 1);
	assert_int_equal(balloc_is_free(&f->a, 90, 11, NULL), 0);
	assert_int_equal(balloc_is_free(&f->a, 105, 1, NULL), 0);
	assert_int_equal(balloc_is_free(&f->a, 109, 1, NULL), 0);
	assert_int_equal(balloc_is_free(&f->a, 110, N - 110, NULL), 1);
	assert_int_equal(balloc_is_free(&f->a, N - 1, 2, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "outside"));
	assert_int_equal(balloc_is_free(&f->a, 0, 0, NULL), -EINVAL);
}

/* --- allocation ------------------------------------------------------ */

static void alloc_starts_at_free_goal(void **state)
{
	struct fix *f = *state;
	struct balloc_extent x;

	assert_int_equal(balloc_alloc(&f->a, NULL, 1234, 1, 10, &x, NULL), 0);
	assert_int_equal(x.start, 1234);
	assert_int_equal(x.len, 10);
	assert_int_equal(balloc_count_free(&f->a), N - 10);
	assert_int_equal(balloc_is_free(&f->a, 1234, 1, NULL), 0);
	/* next call continues the file right after it */
	assert_int_equal(balloc_alloc(&f->a, NULL, 1244, 1, 1, &x, NULL), 0);
	assert_int_equal(x.start, 1244);
}

static void alloc_one_takes_a_single_block_near_the_goal(void **state)
{
	struct fix *f = *state;
	uint64_t blk = 0;

	take(&f->a, 700, 3);
	assert_int_equal(balloc_alloc_one(&f->a, NULL, 700, &blk, NULL), 0);
	assert_int_equal(blk, 703);
	assert_int_equal(balloc_count_free(&f->a), N - 4);
	fill(&f->a);
	blk = 12345;
	assert_int_equal(balloc_alloc_one(&f->a, NULL, 0, &blk, NULL), -ENOSPC);
	assert_int_equal(blk, 12345);
}

static void alloc_after_used_goal_takes_next_free_run(void **state)
{
	struct fix *f = *state;
	struct balloc_extent x;

	take(&f->a, 100, 10);
	assert_int_equal(balloc_alloc(&f->a, NULL, 100, 1, 8, &x, NULL), 0);
	assert_int_equal(x.start, 110);
	assert_int_equal(x.len, 8);
}

static void alloc_returns_shorter_run_when_min_allows(void **state)
{
	struct fix *f = *state;
	struct balloc_extent x;

	comb(&f->a, 3);
	assert_int_equal(balloc_alloc(&f->a, NULL, 0, 1, 10, &x, NULL), 0);
	assert_int_equal(x.len, 3);
	assert_int_equal(x.start % 4, 0);
}

static void alloc_with_min_skips_short_runs(void **state)
{
	struct fix *f = *state;
	struct balloc_extent x;

	comb(&f->a, 3);
	/* one run of 6 at 2000..2005 */
	assert_int_equal(balloc_free(&f->a, 2003, 1, NULL), 0);
	assert_int_equal(balloc_alloc(&f->a, NULL, 10, 5, 5, &x, NULL), 0);
	assert_int_equal(x.start, 2000);
	assert_int_equal(x.len, 5);
	assert_int_equal(balloc_alloc(&f->a, NULL, 10, 5, 5, &x, NULL), -ENOSPC);
}

static void alloc_wraps_round_to_the_start(void **state)
{
	struct fix *f = *state;
	struct balloc_extent x;

	take(&f->a, 3000, N - 3000);
	assert_int_equal(balloc_alloc(&f->a, NULL, 4000, 1, 5, &x, NULL), 0);
	assert_true(x.start + x.len <= 3000);
	assert_int_equal(x.len, 5);
}

static void alloc_goal_past_end_counts_as_block_zero(void **state)
{
	struct fix *f = *state;
	struct balloc_extent x;

	assert_int_equal(balloc_alloc(&f->a, NULL, N, 1, 4, &x, NULL), 0);
	assert_int_equal(x.start, 0);
	assert_int_equal(balloc_alloc(&f->a, NULL, UINT64_MAX, 1, 4, &x, NULL), 0);
	assert_int_equal(x.start, 4);
}

static void alloc_skips_full_regions(void **state)
{
	struct fix *f = *state;
	struct balloc_extent x;

	/* several bitmap groups entirely full, one hole far away */
	take(&f->a, 0, 4500);
	take(&f->a, 4501, N - 4501);
	assert_int_equal(balloc_alloc(&f->a, NULL, 7, 1, 100, &x, NULL), 0);
	assert_int_equal(x.start, 4500);
	assert_int_equal(x.len, 1);
	assert_int_equal(balloc_count_free(&f->a), 0);
}

static void alloc_on_full_space_fails_enospc_changing_nothing(void **state)
{
	struct fix *f = *state;
	struct mixfs_err err = { 0 };
	struct balloc_extent x = { 77, 77 };

	take(&f->a, 0, N);
	assert_int_equal(balloc_alloc(&f->a, NULL, 0, 1, 1, &x, &err), -ENOSPC);
	assert_int_equal(err.code, -ENOSPC);
	assert_true(err.msg[0] != '\0');
	assert_int_equal(balloc_count_free(&f->a), 0);
}

static void alloc_run_longer_than_any_fails_enospc(void **state)
{
	struct fix *f = *state;
	struct balloc_extent x;

	comb(&f->a, 9);
	assert_int_equal(balloc_alloc(&f->a, NULL, 0, 10, 10, &x, NULL), -ENOSPC);
	assert_int_equal(balloc_count_free(&f->a), N - N / 10);
	assert_int_equal(balloc_largest_free(&f->a), 9);
}

static void alloc_bad_lengths_fail_einval(void **state)
{
	struct fix *f = *state;
	struct balloc_extent x;

	assert_int_equal(balloc_alloc(&f->a, NULL, 0, 0, 5, &x, NULL), -EINVAL);
	assert_int_equal(balloc_alloc(&f->a, NULL, 0, 6, 5, &x, NULL), -EINVAL);
	assert_int_equal(balloc_count_free(&f->a), N);
}

static void alloc_at_takes_exact_range(void **state)
{
	struct fix *f = *state;
	struct exts *e;

	take(&f->a, 10, 20);
	e = free_extents(&f->a, 0);
	assert_int_equal(e->n, 2);
	assert_int_equal(e->v[0].start, 0);
	assert_int_equal(e->v[0].len, 10);
	assert_int_equal(e->v[1].start, 30);
	assert_int_equal(e->v[1].len, N - 30);
	free(e);
}

static void alloc_at_over_used_block_fails_enospc_naming_it(void **state)
{
	struct fix *f = *state;
	struct mixfs_err err = { 0 };

	take(&f->a, 50, 1);
	assert_int_equal(balloc_alloc_at(&f->a, NULL, 40, 20, &err), -ENOSPC);
	assert_non_null(strstr(err.msg, "block 50 "));
	assert_int_equal(balloc_count_free(&f->a), N - 1);
	assert_int_equal(balloc_is_free(&f->a, 40, 10, NULL), 1);
}

static void alloc_at_out_of_range_fails_einval(void **state)
{
	struct fix *f = *state;

	assert_int_equal(balloc_alloc_at(&f->a, NULL, N - 5, 6, NULL), -EINVAL);
	assert_int_equal(balloc_alloc_at(&f->a, NULL, N, 1, NULL), -EINVAL);
	assert_int_equal(balloc_alloc_at(&f->a, NULL, 1, UINT64_MAX, NULL), -EINVAL);
	assert_int_equal(balloc_alloc_at(&f->a, NULL, 1, 0, NULL), -EINVAL);
	assert_int_equal(balloc_count_free(&f->a), N);
}

/* --- freeing --------------------------------------------------------- */

static void free_coalesces_with_both_neighbours(void **state)
{
	struct fix *f = *state;
	struct exts *e;

	take(&f->a, 100, 30);
	assert_int_equal(balloc_free(&f->a, 110, 10, NULL), 0);
	assert_int_equal(balloc_free(&f->a, 100, 10, NULL), 0);
	assert_int_equal(balloc_free(&f->a, 120, 10, NULL), 0);
	e = free_extents(&f->a, 0);
	assert_int_equal(e->n, 1);
	assert_int_equal(e->v[0].len, N);
	free(e);
	assert_int_equal(balloc_largest_free(&f->a), N);
	assert_int_equal(balloc_count_free(&f->a), N);
}

static void double_free_fails_einval_naming_the_block(void **state)
{
	struct fix *f = *state;
	struct mixfs_err err = { 0 };

	take(&f->a, 100, 10);
	assert_int_equal(balloc_free(&f->a, 100, 10, NULL), 0);
	assert_int_equal(balloc_free(&f->a, 100, 10, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "double free"));
	assert_non_null(strstr(err.msg, "block 100 "));
	assert_int_equal(balloc_count_free(&f->a), N);
}

static void partly_free_range_is_not_freed(void **state)
{
	struct fix *f = *state;
	struct mixfs_err err = { 0 };

	take(&f->a, 100, 10);
	assert_int_equal(balloc_free(&f->a, 105, 10, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "block 110 "));
	assert_int_equal(balloc_free(&f->a, 95, 10, NULL), -EINVAL);
	assert_int_equal(balloc_count_free(&f->a), N - 10);
	assert_int_equal(balloc_is_free(&f->a, 100, 1, NULL), 0);
	assert_int_equal(balloc_is_free(&f->a, 109, 1, NULL), 0);
}

static void free_out_of_range_fails_einval(void **state)
{
	struct fix *f = *state;

	take(&f->a, N - 10, 10);
	assert_int_equal(balloc_free(&f->a, N - 10, 11, NULL), -EINVAL);
	assert_int_equal(balloc_free(&f->a, N - 10, 0, NULL), -EINVAL);
	assert_int_equal(balloc_free(&f->a, N, 1, NULL), -EINVAL);
	assert_int_equal(balloc_count_free(&f->a), N - 10);
}

/* --- reservation ----------------------------------------------------- */

static void reservation_counts_as_used_for_enospc(void **state)
{
	struct fix *f = *state;
	struct balloc_resv r = BALLOC_RESV_INIT;
	struct balloc_extent x;
	struct balloc_stat st;

	assert_int_equal(balloc_reserve(&f->a, &r, N - 10, NULL), 0);
	balloc_stat(&f->a, &st);
	assert_int_equal(st.free, N);
	assert_int_equal(st.reserved, N - 10);
	assert_int_equal(st.available, 10);
	assert_int_equal(balloc_alloc(&f->a, NULL, 0, 11, 11, &x, NULL), -ENOSPC);
	assert_int_equal(balloc_alloc_at(&f->a, NULL, 0, 11, NULL), -ENOSPC);
	assert_int_equal(balloc_alloc(&f->a, NULL, 0, 1, 100, &x, NULL), 0);
	assert_int_equal(x.len, 10);	/* capped at what was available */
	assert_int_equal(balloc_alloc(&f->a, NULL, 0, 1, 1, &x, NULL), -ENOSPC);
	assert_int_equal(balloc_reserve(&f->a, &r, 1, NULL), -ENOSPC);
	assert_int_equal(r.blocks, N - 10);
	assert_int_equal(balloc_unreserve(&f->a, &r, r.blocks, NULL), 0);
	assert_int_equal(balloc_alloc(&f->a, NULL, 0, 1, 1, &x, NULL), 0);
}

static void reserved_allocation_succeeds_when_space_is_otherwise_full(void **state)
{
	struct fix *f = *state;
	struct balloc_resv r = BALLOC_RESV_INIT;
	struct balloc_extent x;
	uint64_t got = 0;
	int ret;

	assert_int_equal(balloc_reserve(&f->a, &r, 100, NULL), 0);
	comb(&f->a, 1);		/* fragment: single free blocks */
	while ((ret = balloc_alloc(&f->a, NULL, 0, 1, 7, &x, NULL)) == 0)
		;
	assert_int_equal(ret, -ENOSPC);
	assert_int_equal(balloc_count_free(&f->a), 100);
	while (r.blocks > 0) {
		assert_int_equal(balloc_alloc(&f->a, &r, 0, 1, 3, &x, NULL), 0);
		got += x.len;
	}
	assert_int_equal(got, 100);
	assert_int_equal(balloc_count_free(&f->a), 0);
	assert_int_equal(balloc_alloc(&f->a, &r, 0, 1, 1, &x, NULL), -ENOSPC);
}

static void allocation_charges_its_reservation_first(void **state)
{
	struct fix *f = *state;
	struct balloc_resv r = BALLOC_RESV_INIT, other = BALLOC_RESV_INIT;
	struct balloc_extent x;
	struct balloc_stat st;

	assert_int_equal(balloc_reserve(&f->a, &other, N - 20, NULL), 0);
	assert_int_equal(balloc_reserve(&f->a, &r, 5, NULL), 0);
	/* r may use its 5 plus the 15 nobody reserved, not other's */
	assert_int_equal(balloc_alloc(&f->a, &r, 0, 1, 100, &x, NULL), 0);
	assert_int_equal(x.len, 20);
	assert_int_equal(r.blocks, 0);
	balloc_stat(&f->a, &st);
	assert_int_equal(st.reserved, N - 20);
	assert_int_equal(st.available, 0);
	assert_int_equal(balloc_alloc_at(&f->a, &other, 100, 10, NULL), 0);
	assert_int_equal(other.blocks, N - 30);
	balloc_stat(&f->a, &st);
	assert_int_equal(st.free, N - 30);
	assert_int_equal(st.reserved, N - 30);
}

static void failed_reserved_allocation_keeps_the_reservation(void **state)
{
	struct fix *f = *state;
	struct balloc_resv r = BALLOC_RESV_INIT;
	struct balloc_extent x;

	comb(&f->a, 3);
	assert_int_equal(balloc_reserve(&f->a, &r, 10, NULL), 0);
	assert_int_equal(balloc_alloc(&f->a, &r, 0, 4, 4, &x, NULL), -ENOSPC);
	assert_int_equal(r.blocks, 10);
	assert_int_equal(balloc_alloc_at(&f->a, &r, 3, 2, NULL), -ENOSPC);
	assert_int_equal(r.blocks, 10);
}

static void unreserve_more_than_held_fails_einval(void **state)
{
	struct fix *f = *state;
	struct balloc_resv r = BALLOC_RESV_INIT;
	struct mixfs_err err = { 0 };

	assert_int_equal(balloc_reserve(&f->a, &r, 10, NULL), 0);
	assert_int_equal(balloc_unreserve(&f->a, &r, 11, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "holds 10"));
	assert_int_equal(balloc_unreserve(&f->a, &r, 4, NULL), 0);
	assert_int_equal(r.blocks, 6);
	assert_int_equal(balloc_unreserve(&f->a, &r, 6, NULL), 0);
	assert_int_equal(balloc_unreserve(&f->a, &r, 1, NULL), -EINVAL);
}

/* --- iteration, growth ------------------------------------------------ */

static int stop_at_second(void *arg, uint64_t start, uint64_t len)
{
	int *calls = arg;

	(void)start;
	(void)len;
	return ++*calls == 2 ? 42 : 0;
}

static void iterate_lists_free_extents_from_a_block(void **state)
{
	struct fix *f = *state;
	struct exts *e;
	int calls = 0;

	take(&f->a, 0, 10);
	take(&f->a, 20, 10);
	take(&f->a, 40, N - 40);
	e = free_extents(&f->a, 15);
	assert_int_equal(e->n, 2);
	assert_int_equal(e->v[0].start, 15);
	assert_int_equal(e->v[0].len, 5);
	assert_int_equal(e->v[1].start, 30);
	assert_int_equal(e->v[1].len, 10);
	free(e);
	e = free_extents(&f->a, 40);
	assert_int_equal(e->n, 0);
	free(e);
	assert_int_equal(balloc_iterate_free(&f->a, 0, stop_at_second, &calls), 42);
	assert_int_equal(calls, 2);
}

static void largest_free_follows_the_longest_run(void **state)
{
	struct fix *f = *state;

	take(&f->a, 1000, 1);
	take(&f->a, 3000, 1);
	assert_int_equal(balloc_largest_free(&f->a), 1999);
	take(&f->a, 2000, 1);
	assert_int_equal(balloc_largest_free(&f->a), N - 3001);
	fill(&f->a);
	assert_true(balloc_largest_free(&f->a) == 0);
}

static void grow_adds_free_blocks_joined_to_the_tail(void **state)
{
	struct fix *f = *state;
	struct mixfs_err err = { 0 };
	struct exts *e;

	take(&f->a, 0, 100);
	assert_int_equal(balloc_grow(&f->a, 3 * N, NULL), 0);
	assert_int_equal(balloc_count_free(&f->a), 3 * N - 100);
	e = free_extents(&f->a, 0);
	assert_int_equal(e->n, 1);
	assert_int_equal(e->v[0].start, 100);
	assert_int_equal(e->v[0].len, 3 * N - 100);
	free(e);
	take(&f->a, 3 * N - 1, 1);
	assert_int_equal(balloc_grow(&f->a, 3 * N + 700, NULL), 0);
	assert_int_equal(balloc_is_free(&f->a, 3 * N, 700, NULL), 1);
	assert_int_equal(balloc_largest_free(&f->a), 3 * N - 101);
	assert_int_equal(balloc_grow(&f->a, 3 * N, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not larger"));
}

/* --- serialisation ---------------------------------------------------- */

static void *save(const struct balloc *a, size_t *len)
{
	size_t cap = balloc_serial_size(a);
	void *buf = malloc(cap);

	assert_non_null(buf);
	assert_int_equal(balloc_serialise(a, buf, cap, len, NULL), 0);
	assert_int_equal(*len, cap);
	return buf;
}

static void serialised_map_loads_into_every_kind(void **state)
{
	struct fix *f = *state;
	const char *const *k;
	struct exts *want;
	size_t len;
	void *buf;

	take(&f->a, 4000, N - 4000);
	comb(&f->a, 7);
	assert_int_equal(balloc_grow(&f->a, N + 13, NULL), 0);
	want = free_extents(&f->a, 0);
	buf = save(&f->a, &len);
	for (k = balloc_kinds; *k; k++) {
		struct mixfs_err err = { 0 };
		struct balloc b;
		struct exts *got;
		int ret = balloc_load(&b, *k, buf, len, &err);

		if (ret != 0)
			fail_msg("load into %s: %s", *k, mixfs_err_msg(&err, ret));
		assert_string_equal(balloc_kind(&b), *k);
		assert_int_equal(b.nblocks, N + 13);
		assert_int_equal(balloc_count_free(&b), balloc_count_free(&f->a));
		got = free_extents(&b, 0);
		assert_int_equal(got->n, want->n);
		assert_memory_equal(got->v, want->v, want->n * sizeof(want->v[0]));
		free(got);
		balloc_release(&b);
	}
	free(want);
	free(buf);
}

static void load_without_kind_picks_the_writer(void **state)
{
	struct fix *f = *state;
	struct balloc b;
	size_t len;
	void *buf = save(&f->a, &len);

	assert_int_equal(balloc_load(&b, NULL, buf, len, NULL), 0);
	assert_string_equal(balloc_kind(&b), f->kind);
	balloc_release(&b);
	assert_int_equal(balloc_load(&b, "nosuch", buf, len, NULL), -EINVAL);
	free(buf);
}

static void serialise_into_short_buffer_fails_erange(void **state)
{
	struct fix *f = *state;
	struct mixfs_err err = { 0 };
	char small[16];
	size_t len = 0;

	assert_int_equal(balloc_serialise(&f->a, small, sizeof(small), &len,
					  &err), -ERANGE);
	assert_int_equal(len, balloc_serial_size(&f->a));
	assert_non_null(strstr(err.msg, "needed"));
}

static void reservations_are_not_serialised(void **state)
{
	struct fix *f = *state;
	struct balloc_resv r = BALLOC_RESV_INIT;
	struct balloc_stat st;
	struct balloc b;
	size_t len;
	void *buf;

	assert_int_equal(balloc_reserve(&f->a, &r, 100, NULL), 0);
	buf = save(&f->a, &len);
	assert_int_equal(balloc_load(&b, f->kind, buf, len, NULL), 0);
	balloc_stat(&b, &st);
	assert_int_equal(st.reserved, 0);
	assert_int_equal(st.available, N);
	balloc_release(&b);
	free(buf);
}

/* --- consistency check ------------------------------------------------ */

struct mism {
	int what[16];
	struct balloc_extent r[16];
	int n;
};

static int record(void *arg, enum balloc_mismatch what, uint64_t start,
		  uint64_t len)
{
	struct mism *m = arg;

	if (m->n == 16)
		return -E2BIG;
	m->what[m->n] = what;
	m->r[m->n].start = start;
	m->r[m->n].len = len;
	m->n++;
	return 0;
}

static void check_of_matching_lists_reports_nothing(void **state)
{
	struct fix *f = *state;
	/* unsorted, overlapping, touching: all fine */
	const struct balloc_extent used[] = {
		{ 200, 50 }, { 0, 10 }, { 5, 10 }, { 15, 5 }, { 220, 30 },
	};
	struct mism m = { .n = 0 };

	take(&f->a, 0, 20);
	take(&f->a, 200, 50);
	assert_int_equal(balloc_check(&f->a, used, 5, record, &m, NULL), 0);
	assert_int_equal(m.n, 0);
}

static void check_reports_precise_mismatching_ranges(void **state)
{
	struct fix *f = *state;
	const struct balloc_extent used[] = {
		{ 0, 10 },	/* map: 0..9 used too */
		{ 100, 20 },	/* map: only 105..114 used */
		{ N - 1, 1 },	/* map: free */
	};
	struct mism m = { .n = 0 };

	take(&f->a, 0, 10);
	take(&f->a, 105, 10);
	take(&f->a, 300, 7);	/* leaked */
	assert_int_equal(balloc_check(&f->a, used, 3, record, &m, NULL), 4);
	assert_int_equal(m.n, 4);
	assert_int_equal(m.what[0], BALLOC_IN_USE_BUT_FREE);
	assert_int_equal(m.r[0].start, 100);
	assert_int_equal(m.r[0].len, 5);
	assert_int_equal(m.what[1], BALLOC_IN_USE_BUT_FREE);
	assert_int_equal(m.r[1].start, 115);
	assert_int_equal(m.r[1].len, 5);
	assert_int_equal(m.what[2], BALLOC_FREE_BUT_ALLOCATED);
	assert_int_equal(m.r[2].start, 300);
	assert_int_equal(m.r[2].len, 7);
	assert_int_equal(m.what[3], BALLOC_IN_USE_BUT_FREE);
	assert_int_equal(m.r[3].start, N - 1);
	assert_int_equal(m.r[3].len, 1);
	/* without a callback it still counts */
	assert_int_equal(balloc_check(&f->a, used, 3, NULL, NULL, NULL), 4);
}

static void check_of_empty_list_reports_all_used_space(void **state)
{
	struct fix *f = *state;
	struct mism m = { .n = 0 };

	take(&f->a, 10, 5);
	take(&f->a, N - 5, 5);
	assert_int_equal(balloc_check(&f->a, NULL, 0, record, &m, NULL), 2);
	assert_int_equal(m.what[0], BALLOC_FREE_BUT_ALLOCATED);
	assert_int_equal(m.r[0].start, 10);
	assert_int_equal(m.r[1].start, N - 5);
	assert_int_equal(m.r[1].len, 5);
}

static void check_rejects_extent_outside_the_space(void **state)
{
	struct fix *f = *state;
	const struct balloc_extent used[] = { { 0, 1 }, { N - 1, 2 } };
	struct mixfs_err err = { 0 };

	assert_int_equal(balloc_check(&f->a, used, 2, NULL, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "outside"));
}

#define CASES(kind) \
	CASE(kind, new_allocator_is_all_free), \
	CASE(kind, init_rejects_bad_arguments), \
	CASE(kind, is_free_answers_for_ranges), \
	CASE(kind, alloc_starts_at_free_goal), \
	CASE(kind, alloc_one_takes_a_single_block_near_the_goal), \
	CASE(kind, alloc_after_used_goal_takes_next_free_run), \
	CASE(kind, alloc_returns_shorter_run_when_min_allows), \
	CASE(kind, alloc_with_min_skips_short_runs), \
	CASE(kind, alloc_wraps_round_to_the_start), \
	CASE(kind, alloc_goal_past_end_counts_as_block_zero), \
	CASE(kind, alloc_skips_full_regions), \
	CASE(kind, alloc_on_full_space_fails_enospc_changing_nothing), \
	CASE(kind, alloc_run_longer_than_any_fails_enospc), \
	CASE(kind, alloc_bad_lengths_fail_einval), \
	CASE(kind, alloc_at_takes_exact_range), \
	CASE(kind, alloc_at_over_used_block_fails_enospc_naming_it), \
	CASE(kind, alloc_at_out_of_range_fails_einval), \
	CASE(kind, free_coalesces_with_both_neighbours), \
	CASE(kind, double_free_fails_einval_naming_the_block), \
	CASE(kind, partly_free_range_is_not_freed), \
	CASE(kind, free_out_of_range_fails_einval), \
	CASE(kind, reservation_counts_as_used_for_enospc), \
	CASE(kind, reserved_allocation_succeeds_when_space_is_otherwise_full), \
	CASE(kind, allocation_charges_its_reservation_first), \
	CASE(kind, failed_reserved_allocation_keeps_the_reservation), \
	CASE(kind, unreserve_more_than_held_fails_einval), \
	CASE(kind, iterate_lists_free_extents_from_a_block), \
	CASE(kind, largest_free_follows_the_longest_run), \
	CASE(kind, grow_adds_free_blocks_joined_to_the_tail), \
	CASE(kind, serialised_map_loads_into_every_kind), \
	CASE(kind, load_without_kind_picks_the_writer), \
	CASE(kind, serialise_into_short_buffer_fails_erange), \
	CASE(kind, reservations_are_not_serialised), \
	CASE(kind, check_of_matching_lists_reports_nothing), \
	CASE(kind, check_reports_precise_mismatching_ranges), \
	CASE(kind, check_of_empty_list_reports_all_used_space), \
	CASE(kind, check_rejects_extent_outside_the_space)

#define CASE(kind, fn) \
	{ #kind "_" #fn, fn, setup_##kind, teardown, NULL }

int main(void)
{
	const struct CMUnitTest tests[] = {
		CASES(bitmap),
		CASES(extent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
