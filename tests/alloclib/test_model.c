/*
 * test_model.c - random allocate / free / reserve / grow steps against a
 * reference that is obviously right (one bool per block), for each
 * allocator.
 *
 * After every step: the call's result is the one the reference predicts
 * (success, -ENOSPC or -EINVAL), the free and reserved counts agree, and a
 * random range answers is_free() the same way. Every CHECK_EVERY steps and
 * at the end: the whole free-extent list, the longest run, the fsck check
 * against the reference's allocations, and the map serialised and loaded
 * back into both kinds all agree.
 *
 * Seeded: MIXFS_SEED=n reproduces a run; a failure names the seed, the
 * implementation and the step. 10^6 steps per implementation by default
 * (fewer under AddressSanitizer, which is several times slower), 10^7
 * with MIXFS_LONG=1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloclib/balloc.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define CHECK_EVERY 1000
#define EPOCH_STEPS 50000	/* then start over with a new size */
#define MAX_BLOCKS 12000
#define NRESV 4

static uint64_t seed;

struct model {
	const char *kind;
	struct balloc a;
	bool *used;
	uint64_t n, nfree, reserved;
	struct balloc_resv resv[NRESV];
	struct balloc_extent *live;	/* what the model has allocated */
	size_t nlive, caplive;
	uint64_t rng;
	uint64_t step;
};

#define CHECK(m, cond, ...) do { \
	if (!(cond)) { \
		char msg_[512]; \
		snprintf(msg_, sizeof(msg_), __VA_ARGS__); \
		fail_msg("%s: seed %" PRIu64 " step %" PRIu64 ": %s " \
			 "(rerun with MIXFS_SEED=%" PRIu64 ")", \
			 (m)->kind, seed, (m)->step, msg_, seed); \
	} \
} while (0)

static uint64_t rnd(struct model *m)
{
	/* splitmix64 */
	uint64_t z = (m->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t below(struct model *m, uint64_t n)
{
	return n ? rnd(m) % n : 0;
}

static void live_add(struct model *m, uint64_t start, uint64_t len)
{
	if (m->nlive == m->caplive) {
		m->caplive = m->caplive ? m->caplive * 2 : 1024;
		m->live = realloc(m->live, m->caplive * sizeof(*m->live));
		assert_non_null(m->live);
	}
	m->live[m->nlive].start = start;
	m->live[m->nlive].len = len;
	m->nlive++;
}

static void mark(struct model *m, uint64_t start, uint64_t len, bool used)
{
	uint64_t b;

	for (b = start; b < start + len; b++) {
		CHECK(m, m->used[b] != used, "block %" PRIu64 " already %s",
		      b, used ? "used" : "free");
		m->used[b] = used;
	}
	if (used)
		m->nfree -= len;
	else
		m->nfree += len;
}

static bool ref_is_free(const struct model *m, uint64_t start, uint64_t len)
{
	uint64_t b;

	for (b = start; b < start + len; b++)
		if (m->used[b])
			return false;
	return true;
}

static bool ref_all_used(const struct model *m, uint64_t start, uint64_t len)
{
	uint64_t b;

	for (b = start; b < start + len; b++)
		if (!m->used[b])
			return false;
	return true;
}

static uint64_t ref_run_at(const struct model *m, uint64_t b, uint64_t max)
{
	uint64_t e = b;

	while (e < m->n && e - b < max && !m->used[e])
		e++;
	return e - b;
}

static uint64_t ref_longest(const struct model *m)
{
	uint64_t b = 0, best = 0;

	while (b < m->n) {
		uint64_t r = ref_run_at(m, b, UINT64_MAX);

		if (r > best)
			best = r;
		b += r ? r : 1;
	}
	return best;
}

static void start_epoch(struct model *m)
{
	static const uint32_t sizes[] = { 64, 128, 1024 };
	uint32_t bs = sizes[below(m, 3)];
	struct mixfs_err err = { 0 };
	int ret;
	size_t i;

	balloc_release(&m->a);
	/* mostly a few groups' worth, sometimes tiny */
	m->n = below(m, 8) == 0 ? 1 + below(m, 20) : 1 + below(m, 4000);
	ret = balloc_init(&m->a, m->kind, m->n, bs, &err);
	CHECK(m, ret == 0, "init: %s", mixfs_err_msg(&err, ret));
	free(m->used);
	m->used = calloc(MAX_BLOCKS, sizeof(*m->used));
	assert_non_null(m->used);
	m->nfree = m->n;
	m->reserved = 0;
	for (i = 0; i < NRESV; i++)
		m->resv[i].blocks = 0;
	m->nlive = 0;
}

/* --- one step of each kind ------------------------------------------- */

static void step_alloc(struct model *m, bool with_resv)
{
	struct balloc_resv *r = with_resv ? &m->resv[below(m, NRESV)] : NULL;
	uint64_t goal = below(m, m->n + 3);
	uint64_t min = below(m, 3) ? 1 : 1 + below(m, 8);
	uint64_t max = min + (below(m, 4) ? below(m, 8) : below(m, 300));
	uint64_t avail = m->nfree - m->reserved + (r ? r->blocks : 0);
	uint64_t rbefore = r ? r->blocks : 0, g = goal < m->n ? goal : 0;
	struct mixfs_err err = { 0 };
	struct balloc_extent x;
	int ret;

	ret = balloc_alloc(&m->a, r, goal, min, max, &x, &err);
	if (ret == -ENOSPC) {
		CHECK(m, avail < min || ref_longest(m) < min,
		      "alloc %" PRIu64 "..%" PRIu64 " failed ENOSPC with %" PRIu64
		      " available and a free run of %" PRIu64 ": %s",
		      min, max, avail, ref_longest(m), err.msg);
		CHECK(m, !r || r->blocks == rbefore, "failed alloc ate the reservation");
		return;
	}
	CHECK(m, ret == 0, "alloc %" PRIu64 "..%" PRIu64 " goal %" PRIu64 ": %s",
	      min, max, goal, mixfs_err_msg(&err, ret));
	CHECK(m, avail >= min, "alloc of %" PRIu64 " succeeded with %" PRIu64
	      " available", min, avail);
	CHECK(m, x.len >= min && x.len <= max && x.len <= avail,
	      "alloc %" PRIu64 "..%" PRIu64 " (available %" PRIu64 ") got %" PRIu64,
	      min, max, avail, x.len);
	CHECK(m, x.start < m->n && x.len <= m->n - x.start,
	      "alloc returned %" PRIu64 "+%" PRIu64 " outside the space",
	      x.start, x.len);
	CHECK(m, ref_is_free(m, x.start, x.len),
	      "alloc returned %" PRIu64 "+%" PRIu64 " which is in use",
	      x.start, x.len);
	if (ref_run_at(m, g, min) >= min)
		CHECK(m, x.start == g, "goal %" PRIu64 " was free (run >= %" PRIu64
		      ") but got %" PRIu64, g, min, x.start);
	mark(m, x.start, x.len, true);
	live_add(m, x.start, x.len);
	if (r) {
		uint64_t t = x.len < rbefore ? x.len : rbefore;

		CHECK(m, r->blocks == rbefore - t, "reservation %" PRIu64 " -> %"
		      PRIu64 " after taking %" PRIu64, rbefore, r->blocks, x.len);
		m->reserved -= t;
	}
}

static void step_alloc_at(struct model *m)
{
	struct balloc_resv *r = below(m, 2) ? &m->resv[below(m, NRESV)] : NULL;
	uint64_t start = below(m, m->n + 2), len = 1 + below(m, 16);
	uint64_t avail = m->nfree - m->reserved + (r ? r->blocks : 0);
	uint64_t rbefore = r ? r->blocks : 0;
	int want, ret;

	if (start >= m->n || len > m->n - start)
		want = -EINVAL;
	else if (!ref_is_free(m, start, len) || avail < len)
		want = -ENOSPC;
	else
		want = 0;
	ret = balloc_alloc_at(&m->a, r, start, len, NULL);
	CHECK(m, ret == want, "alloc_at %" PRIu64 "+%" PRIu64 " returned %d, want %d",
	      start, len, ret, want);
	if (ret == 0) {
		uint64_t t = len < rbefore ? len : rbefore;

		mark(m, start, len, true);
		live_add(m, start, len);
		if (r)
			m->reserved -= t;
	}
}

static void step_free(struct model *m)
{
	struct balloc_extent *l;
	struct mixfs_err err = { 0 };
	uint64_t off, len, s;
	size_t i;
	int ret;

	if (m->nlive == 0)
		return;
	i = below(m, m->nlive);
	l = &m->live[i];
	off = below(m, 2) ? 0 : below(m, l->len);
	len = below(m, 2) ? l->len - off : 1 + below(m, l->len - off);
	s = l->start + off;
	ret = balloc_free(&m->a, s, len, &err);
	CHECK(m, ret == 0, "free %" PRIu64 "+%" PRIu64 ": %s", s, len,
	      mixfs_err_msg(&err, ret));
	mark(m, s, len, false);
	/* keep the pieces before and after the freed range */
	{
		struct balloc_extent old = *l;

		m->live[i] = m->live[--m->nlive];
		if (off)
			live_add(m, old.start, off);
		if (off + len < old.len)
			live_add(m, s + len, old.len - off - len);
	}
}

static void step_bad_free(struct model *m)
{
	uint64_t b = below(m, m->n + 2), len = 1 + below(m, 8), e;
	uint64_t before = m->nfree;
	int ret;

	if (b < m->n) {
		/* move onto a free block if there is one ahead */
		for (e = b; e < m->n && m->used[e]; e++)
			;
		if (e < m->n)
			b = e - (e - b > 2 ? 2 : e - b);
		if (len > m->n - b && below(m, 2))
			len = m->n - b;
	}
	if (b < m->n && len <= m->n - b && ref_all_used(m, b, len))
		return;		/* a legitimate free, not this step's business */
	ret = balloc_free(&m->a, b, len, NULL);
	CHECK(m, ret == -EINVAL, "bad free %" PRIu64 "+%" PRIu64 " returned %d",
	      b, len, ret);
	CHECK(m, balloc_count_free(&m->a) == before, "bad free changed the count");
}

static void step_reserve(struct model *m)
{
	struct balloc_resv *r = &m->resv[below(m, NRESV)];
	uint64_t n = below(m, 30), avail = m->nfree - m->reserved;
	uint64_t before = r->blocks;
	int ret = balloc_reserve(&m->a, r, n, NULL);

	CHECK(m, ret == (n > avail ? -ENOSPC : 0), "reserve %" PRIu64
	      " with %" PRIu64 " available returned %d", n, avail, ret);
	if (ret == 0)
		m->reserved += n;
	CHECK(m, r->blocks == before + (ret ? 0 : n), "reservation count");
}

static void step_unreserve(struct model *m)
{
	struct balloc_resv *r = &m->resv[below(m, NRESV)];
	uint64_t n = below(m, r->blocks + 3), before = r->blocks;
	int ret = balloc_unreserve(&m->a, r, n, NULL);

	CHECK(m, ret == (n > before ? -EINVAL : 0), "unreserve %" PRIu64
	      " of %" PRIu64 " returned %d", n, before, ret);
	if (ret == 0)
		m->reserved -= n;
}

static void step_grow(struct model *m)
{
	uint64_t n = m->n + 1 + below(m, 700);
	struct mixfs_err err = { 0 };
	int ret;

	if (n > MAX_BLOCKS)
		return;
	ret = balloc_grow(&m->a, n, &err);
	CHECK(m, ret == 0, "grow to %" PRIu64 ": %s", n, mixfs_err_msg(&err, ret));
	m->nfree += n - m->n;
	m->n = n;
}

/* --- checks ---------------------------------------------------------- */

static void cheap_checks(struct model *m)
{
	struct balloc_stat st;
	uint64_t s, len;
	int ret;

	balloc_stat(&m->a, &st);
	CHECK(m, st.free == m->nfree, "free count %" PRIu64 ", reference %" PRIu64,
	      st.free, m->nfree);
	CHECK(m, st.reserved == m->reserved, "reserved %" PRIu64 ", reference %"
	      PRIu64, st.reserved, m->reserved);
	CHECK(m, st.nblocks == m->n, "size %" PRIu64 ", reference %" PRIu64,
	      st.nblocks, m->n);
	s = below(m, m->n);
	len = 1 + below(m, m->n - s < 40 ? m->n - s : 40);
	ret = balloc_is_free(&m->a, s, len, NULL);
	CHECK(m, ret == (int)ref_is_free(m, s, len), "is_free(%" PRIu64 "+%"
	      PRIu64 ") = %d, reference %d", s, len, ret, ref_is_free(m, s, len));
}

struct walk {
	struct model *m;
	uint64_t pos;
	uint64_t count;
};

/* Each reported extent must be exactly a maximal free run of the model. */
static int walk_cb(void *arg, uint64_t start, uint64_t len)
{
	struct walk *w = arg;
	struct model *m = w->m;
	uint64_t b;

	for (b = w->pos; b < start; b++)
		CHECK(m, m->used[b], "block %" PRIu64 " is free but not listed", b);
	CHECK(m, start >= w->pos && len > 0, "extent %" PRIu64 "+%" PRIu64
	      " out of order", start, len);
	CHECK(m, ref_is_free(m, start, len), "listed extent %" PRIu64 "+%" PRIu64
	      " holds used blocks", start, len);
	CHECK(m, start + len == m->n || m->used[start + len],
	      "extent %" PRIu64 "+%" PRIu64 " is not maximal", start, len);
	CHECK(m, start == 0 || start == w->pos || m->used[start - 1],
	      "extent at %" PRIu64 " not merged with its left neighbour", start);
	w->pos = start + len;
	w->count += len;
	return 0;
}

static void compare_map(struct model *m, const struct balloc *a,
			const char *what)
{
	struct walk w = { .m = m };
	uint64_t b;

	CHECK(m, balloc_iterate_free(a, 0, walk_cb, &w) == 0, "%s: iterate", what);
	for (b = w.pos; b < m->n; b++)
		CHECK(m, m->used[b], "%s: free block %" PRIu64 " not listed", what, b);
	CHECK(m, w.count == m->nfree, "%s: listed %" PRIu64 " free, reference %"
	      PRIu64, what, w.count, m->nfree);
	CHECK(m, balloc_largest_free(a) == ref_longest(m),
	      "%s: longest run %" PRIu64 ", reference %" PRIu64, what,
	      balloc_largest_free(a), ref_longest(m));
}

static void full_checks(struct model *m)
{
	const char *const *k;
	size_t cap = balloc_serial_size(&m->a), len;
	void *buf = malloc(cap);
	struct mixfs_err err = { 0 };
	int ret;

	assert_non_null(buf);
	compare_map(m, &m->a, "allocator");
	ret = balloc_check(&m->a, m->live, m->nlive, NULL, NULL, &err);
	CHECK(m, ret == 0, "fsck check found %d mismatches (%s)", ret, err.msg);
	ret = balloc_serialise(&m->a, buf, cap, &len, &err);
	CHECK(m, ret == 0 && len == cap, "serialise: %s", mixfs_err_msg(&err, ret));
	for (k = balloc_kinds; *k; k++) {
		struct balloc b;

		ret = balloc_load(&b, *k, buf, len, &err);
		CHECK(m, ret == 0, "load into %s: %s", *k, mixfs_err_msg(&err, ret));
		CHECK(m, balloc_count_free(&b) == m->nfree, "reloaded free count");
		compare_map(m, &b, *k);
		balloc_release(&b);
	}
	free(buf);
}

static uint64_t default_steps(void)
{
	const char *l = getenv("MIXFS_LONG");

	if (l && strcmp(l, "1") == 0)
		return 10000000;
	return UNDER_ASAN ? 400000 : 1000000;
}

static void run_model(const char *kind)
{
	struct model m = { .kind = kind };
	uint64_t steps = default_steps();

	m.rng = seed ^ (uint64_t)(kind[0]);
	start_epoch(&m);
	for (m.step = 1; m.step <= steps; m.step++) {
		uint64_t op = below(&m, 1000);

		if (m.step % EPOCH_STEPS == 0) {
			full_checks(&m);
			start_epoch(&m);
		}
		if (op < 320)
			step_alloc(&m, false);
		else if (op < 420)
			step_alloc(&m, true);
		else if (op < 500)
			step_alloc_at(&m);
		else if (op < 830)
			step_free(&m);
		else if (op < 860)
			step_bad_free(&m);
		else if (op < 930)
			step_reserve(&m);
		else if (op < 998)
			step_unreserve(&m);
		else
			step_grow(&m);
		cheap_checks(&m);
		if (m.step % CHECK_EVERY == 0)
			full_checks(&m);
	}
	full_checks(&m);
	balloc_release(&m.a);
	free(m.used);
	free(m.live);
}

static void bitmap_matches_reference_model(void **state)
{
	(void)state;
	run_model("bitmap");
}

static void extent_matches_reference_model(void **state)
{
	(void)state;
	run_model("extent");
}

int main(void)
{
	const char *s = getenv("MIXFS_SEED");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bitmap_matches_reference_model),
		cmocka_unit_test(extent_matches_reference_model),
	};

	seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
	printf("# seed %" PRIu64 " (MIXFS_SEED), %" PRIu64 " steps per allocator\n",
	       seed, default_steps());
	fflush(stdout);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
