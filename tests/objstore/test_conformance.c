/*
 * test_conformance.c - the behaviour every object-store backend owes its
 * callers, written once and run against each backend in backends[].
 *
 * Each (backend, behaviour) pair is its own case, named "backend/behaviour",
 * with a fresh store in a fresh directory. Backend-specific behaviour
 * (corruption, locking, on-disk format) is tested elsewhere
 * (test_rocksdb.c, ...).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conformance.h"

/* rados: joins (last) where a test cluster runs: ceph_cluster.sh run sets
 * MIXFS_RADOS_URI. Each case's store is the RADOS namespace named after the
 * case's directory. */
static char rados_fmt[1200];

static const struct backend backends[] = {
	{ "mem", "mem:%.0s%s", false, true, true },
	{ "rocksdb", "rocksdb:%s%s", true, true, true },
	{ "faulty", "faulty::rocksdb:%s%s", true, true, true },
	{ "dir", "dir:%s%s", true, false, false },
	{ "rados", rados_fmt, true, false, true },
};

#define KiB 1024u
#define MiB (1024u * 1024u)

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

/* --- per-case setup ------------------------------------------------------ */

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static int case_setup(void **state)
{
	const struct backend *b = *state;
	struct ctx *c = calloc(1, sizeof(*c));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(c);
	c->b = b;
	snprintf(c->dir, sizeof(c->dir), "%s/mixfs-conf-XXXXXX",
		 tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(c->dir));
	/* Backends create their own directory: hand them a fresh path. */
	strncat(c->dir, "/store", sizeof(c->dir) - strlen(c->dir) - 1);
	if (ctx_open(c, "")) {
		*strrchr(c->dir, '/') = '\0';
		nftw(c->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		free(c);
		return -1;
	}
	*state = c;
	return 0;
}

static int case_teardown(void **state)
{
	struct ctx *c = *state;
	char *slash;

	if (c->s)
		objstore_close(c->s);
	slash = strrchr(c->dir, '/');
	*slash = '\0';
	nftw(c->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(c);
	return 0;
}

static void reopen(struct ctx *c, const char *query)
{
	ctx_close(c);
	if (ctx_open(c, query))
		fail_msg("reopening the %s store failed", c->b->name);
}

static void write_pattern(struct objstore *s, uint64_t id, uint64_t off,
			  size_t len, uint64_t seed)
{
	unsigned char *buf = malloc(len ? len : 1);

	assert_non_null(buf);
	pattern_fill(buf, len, seed, off);
	CHECK(objstore_write(s, id, off, buf, len, NULL));
	free(buf);
}

static void expect_pattern(struct objstore *s, uint64_t id, uint64_t off,
			   size_t len, uint64_t seed)
{
	unsigned char *buf = malloc(len), *want = malloc(len);
	ssize_t n;
	long d;

	assert_non_null(buf);
	assert_non_null(want);
	n = objstore_read(s, id, off, buf, len, NULL);
	if (n != (ssize_t)len)
		fail_msg("read of object %" PRIu64 " at %" PRIu64 " returned %zd, "
			 "expected %zu", id, off, n, len);
	pattern_fill(want, len, seed, off);
	d = first_diff(buf, want, len);
	if (d >= 0)
		fail_msg("object %" PRIu64 " differs at %" PRIu64 ": 0x%02x, "
			 "expected 0x%02x", id, off + (uint64_t)d, buf[d], want[d]);
	free(buf);
	free(want);
}

static void expect_zeros(struct objstore *s, uint64_t id, uint64_t off,
			 size_t len)
{
	unsigned char *buf = malloc(len);
	ssize_t n;
	long d;

	assert_non_null(buf);
	memset(buf, 0xAA, len);
	n = objstore_read(s, id, off, buf, len, NULL);
	if (n != (ssize_t)len)
		fail_msg("read of object %" PRIu64 " at %" PRIu64 " returned %zd, "
			 "expected %zu", id, off, n, len);
	d = first_nonzero(buf, len);
	if (d >= 0)
		fail_msg("object %" PRIu64 " byte %" PRIu64 " is 0x%02x, expected "
			 "a zero (hole)", id, off + (uint64_t)d, buf[d]);
	free(buf);
}

static uint64_t size_of(struct objstore *s, uint64_t id)
{
	struct objstore_stat st;

	CHECK(objstore_stat(s, id, &st, NULL));
	return st.size;
}

/* --- objects ------------------------------------------------------------- */

static void create_stat_remove(void **state)
{
	struct ctx *c = *state;
	struct objstore_stat st;
	unsigned char b;

	CHECK(objstore_create(c->s, 7, NULL));
	CHECK(objstore_stat(c->s, 7, &st, NULL));
	assert_int_equal(st.size, 0);
	assert_int_equal(st.allocated, 0);
	assert_true(st.mtime.tv_sec > 0);
	CHECK_ERR(objstore_create(c->s, 7, NULL), -EEXIST);
	CHECK_ERR(objstore_create(c->s, 0, NULL), -EINVAL);
	CHECK_ERR(objstore_read(c->s, 7, 0, &b, 1, NULL), 0);
	CHECK(objstore_remove(c->s, 7, NULL));
	CHECK_ERR(objstore_stat(c->s, 7, &st, NULL), -ENOENT);
	CHECK_ERR(objstore_remove(c->s, 7, NULL), -ENOENT);
	CHECK_ERR(objstore_read(c->s, 7, 0, &b, 1, NULL), -ENOENT);
	CHECK_ERR(objstore_write(c->s, 7, 0, &b, 1, NULL), -ENOENT);
	CHECK_ERR(objstore_truncate(c->s, 7, 5, NULL), -ENOENT);
	CHECK_ERR(objstore_setattr(c->s, 7, "a", "b", 1, NULL), -ENOENT);
	CHECK(objstore_create(c->s, 7, NULL));	/* an explicit id may return */
}

static void create_fresh_never_reuses_ids(void **state)
{
	struct ctx *c = *state;
	uint64_t a, b, d;

	CHECK(objstore_create_fresh(c->s, &a, NULL));
	assert_true(a != 0);
	CHECK(objstore_remove(c->s, a, NULL));
	CHECK(objstore_create_fresh(c->s, &b, NULL));
	if (b == a)
		fail_msg("fresh id %" PRIu64 " was handed out twice", a);
	CHECK(objstore_create(c->s, 5000, NULL));
	CHECK(objstore_create_fresh(c->s, &d, NULL));
	assert_true(d != a && d != b && d != 5000);
	CHECK(objstore_remove(c->s, 5000, NULL));
	CHECK(objstore_create_fresh(c->s, &a, NULL));
	if (a == 5000)
		fail_msg("fresh id 5000 reuses an id that was created before");
	if (c->b->persistent) {
		reopen(c, "");
		CHECK(objstore_create_fresh(c->s, &b, NULL));
		if (b == a || b == d || b == 5000)
			fail_msg("fresh id %" PRIu64 " after reopen was used "
				 "before", b);
	}
}

static void holes_read_as_zeros(void **state)
{
	struct ctx *c = *state;
	struct objstore_stat st;

	CHECK(objstore_create(c->s, 1, NULL));
	write_pattern(c->s, 1, 3 * MiB + 100, 5000, 1);
	CHECK(objstore_stat(c->s, 1, &st, NULL));
	assert_int_equal(st.size, 3 * MiB + 5100);
	if (st.allocated >= 1 * MiB)
		fail_msg("a 5000-byte write at 3 MiB allocated %" PRIu64
			 " bytes: holes are not free", st.allocated);
	assert_true(st.allocated >= 5000 || st.allocated == 0);
	expect_zeros(c->s, 1, 0, 3 * MiB + 100);
	expect_pattern(c->s, 1, 3 * MiB + 100, 5000, 1);
}

static void writes_across_chunk_boundaries_read_back(void **state)
{
	struct ctx *c = *state;
	const size_t span = 2 * MiB;
	unsigned char *ref = calloc(1, span), *buf = malloc(span);
	uint64_t rng = test_seed() ^ 0x1234, size = 0;
	int i;

	assert_non_null(ref);
	assert_non_null(buf);
	CHECK(objstore_create(c->s, 3, NULL));
	for (i = 0; i < 60; i++) {
		/* Offsets near 4/16/64/256 KiB multiples, lengths that cross. */
		static const uint64_t grain[] = { 4 * KiB, 16 * KiB, 64 * KiB,
						  256 * KiB };
		uint64_t g = grain[rnd_next(&rng) % 4];
		uint64_t off = (rnd_next(&rng) % (span / g)) * g;
		size_t len = (size_t)(rnd_next(&rng) % (300 * KiB)) + 1;

		off = off + (rnd_next(&rng) % 64) - (off ? 32 : 0);
		if (off + len > span)
			len = (size_t)(span - off);
		pattern_fill(ref + off, len, (uint64_t)i, off);
		CHECK(objstore_write(c->s, 3, off, ref + off, len, NULL));
		if (off + len > size)
			size = off + len;
	}
	assert_int_equal(size_of(c->s, 3), size);
	assert_int_equal(objstore_read(c->s, 3, 0, buf, span, NULL), (ssize_t)size);
	if (memcmp(buf, ref, size))
		fail_msg("after 60 writes the object differs at byte %ld "
			 "(seed %" PRIu64 ")", first_diff(buf, ref, size),
			 test_seed());
	free(ref);
	free(buf);
}

static void read_past_end_is_short(void **state)
{
	struct ctx *c = *state;
	unsigned char buf[8192];

	CHECK(objstore_create(c->s, 4, NULL));
	write_pattern(c->s, 4, 0, 5000, 4);
	CHECK_ERR(objstore_read(c->s, 4, 4000, buf, sizeof(buf), NULL), 1000);
	CHECK_ERR(objstore_read(c->s, 4, 5000, buf, sizeof(buf), NULL), 0);
	CHECK_ERR(objstore_read(c->s, 4, 1u << 30, buf, sizeof(buf), NULL), 0);
	CHECK_ERR(objstore_read(c->s, 4, 0, buf, 0, NULL), 0);
}

static void truncate_down_drops_data_past_size(void **state)
{
	struct ctx *c = *state;
	struct objstore_stat st;
	const uint64_t cut = 100 * KiB + 7;

	CHECK(objstore_create(c->s, 5, NULL));
	write_pattern(c->s, 5, 0, 600 * KiB, 5);
	CHECK(objstore_truncate(c->s, 5, cut, NULL));
	assert_int_equal(size_of(c->s, 5), cut);
	CHECK(objstore_truncate(c->s, 5, 600 * KiB, NULL));
	expect_pattern(c->s, 5, 0, cut, 5);
	expect_zeros(c->s, 5, cut, 600 * KiB - cut);
	/* Truncating into the middle of a chunk then writing past it must
	 * not bring back old bytes either. */
	CHECK(objstore_truncate(c->s, 5, 3, NULL));
	write_pattern(c->s, 5, 200 * KiB, 10, 9);
	expect_pattern(c->s, 5, 0, 3, 5);
	expect_zeros(c->s, 5, 3, 200 * KiB - 3);
	CHECK(objstore_truncate(c->s, 5, 0, NULL));
	CHECK(objstore_stat(c->s, 5, &st, NULL));
	assert_int_equal(st.size, 0);
	assert_int_equal(st.allocated, 0);
}

static void truncate_up_adds_a_hole(void **state)
{
	struct ctx *c = *state;
	struct objstore_stat st;

	CHECK(objstore_create(c->s, 6, NULL));
	write_pattern(c->s, 6, 0, 1000, 6);
	CHECK(objstore_truncate(c->s, 6, 8 * MiB, NULL));
	CHECK(objstore_stat(c->s, 6, &st, NULL));
	assert_int_equal(st.size, 8 * MiB);
	if (st.allocated > 1 * MiB)
		fail_msg("growing by truncate allocated %" PRIu64 " bytes",
			 st.allocated);
	expect_pattern(c->s, 6, 0, 1000, 6);
	expect_zeros(c->s, 6, 1000, 8 * MiB - 1000);
}

static void punch_makes_a_hole_and_keeps_size(void **state)
{
	struct ctx *c = *state;
	struct objstore_stat before, after;

	CHECK(objstore_create(c->s, 8, NULL));
	write_pattern(c->s, 8, 0, 1 * MiB, 8);
	CHECK(objstore_stat(c->s, 8, &before, NULL));
	CHECK(objstore_punch(c->s, 8, 1000, 700 * KiB, NULL));
	CHECK(objstore_stat(c->s, 8, &after, NULL));
	assert_int_equal(after.size, 1 * MiB);
	if (!(after.allocated < before.allocated))
		fail_msg("punching 700 KiB left allocated at %" PRIu64
			 " (was %" PRIu64 ")", after.allocated, before.allocated);
	expect_pattern(c->s, 8, 0, 1000, 8);
	expect_zeros(c->s, 8, 1000, 700 * KiB);
	expect_pattern(c->s, 8, 1000 + 700 * KiB, 1 * MiB - 1000 - 700 * KiB, 8);
	/* Past the end: size unchanged, nothing appears. */
	CHECK(objstore_punch(c->s, 8, 900 * KiB, 10 * MiB, NULL));
	assert_int_equal(size_of(c->s, 8), 1 * MiB);
	expect_zeros(c->s, 8, 900 * KiB, 124 * KiB);
	CHECK_ERR(objstore_punch(c->s, 99, 0, 1, NULL), -ENOENT);
}

/*
 * Walk the object from data to hole to data: each hole found must read as
 * zeros and hold none of the bytes written. A backend that finds holes
 * must find the two here; one that does not reports all data.
 */
static void seek_finds_data_and_holes(void **state)
{
	struct ctx *c = *state;
	const uint64_t size = 4 * MiB, b = 2 * MiB;	/* data at 0 and b */
	uint64_t off = 0, h, d, pos;
	int holes = 0, ret;

	CHECK(objstore_create(c->s, 9, NULL));
	write_pattern(c->s, 9, 0, 5000, 9);
	write_pattern(c->s, 9, b, 5000, 9);
	CHECK(objstore_truncate(c->s, 9, size, NULL));
	CHECK(objstore_seek(c->s, 9, 0, SEEK_DATA, &pos, NULL));
	assert_int_equal(pos, 0);
	while (off < size) {
		CHECK(objstore_seek(c->s, 9, off, SEEK_HOLE, &h, NULL));
		if (h < off || h > size)
			fail_msg("SEEK_HOLE from %" PRIu64 " gave %" PRIu64
				 " (size %" PRIu64 ")", off, h, size);
		if (h == size)
			break;
		ret = objstore_seek(c->s, 9, h, SEEK_DATA, &d, NULL);
		if (ret == -ENXIO)
			d = size;
		else
			CHECK(ret);
		if (d <= h || d > size)
			fail_msg("SEEK_DATA from the hole at %" PRIu64 " gave %"
				 PRIu64, h, d);
		if (h < 5000 || (h < b + 5000 && d > b))
			fail_msg("the hole [%" PRIu64 ", %" PRIu64 ") covers "
				 "written bytes", h, d);
		expect_zeros(c->s, 9, h, (size_t)(d - h));
		holes++;
		off = d;
	}
	if (c->caps & OBJSTORE_CAP_SEEK_HOLES) {
		if (holes < 2)
			fail_msg("%d holes found in an object with data at 0 "
				 "and 2 MiB only, size 4 MiB", holes);
		CHECK_ERR(objstore_seek(c->s, 9, b + MiB, SEEK_DATA, &pos,
					NULL), -ENXIO);
		/* A punch makes a hole where data was. */
		CHECK(objstore_punch(c->s, 9, 0, MiB, NULL));
		CHECK(objstore_seek(c->s, 9, 0, SEEK_DATA, &pos, NULL));
		if (pos == 0 || pos > b)
			fail_msg("SEEK_DATA after punching [0, 1 MiB) gave %"
				 PRIu64, pos);
	} else {
		assert_int_equal(holes, 0);
	}
	CHECK_ERR(objstore_seek(c->s, 9, size, SEEK_DATA, &pos, NULL), -ENXIO);
	CHECK_ERR(objstore_seek(c->s, 9, size, SEEK_HOLE, &pos, NULL), -ENXIO);
	CHECK_ERR(objstore_seek(c->s, 9, 0, SEEK_SET, &pos, NULL), -EINVAL);
	CHECK_ERR(objstore_seek(c->s, 99, 0, SEEK_DATA, &pos, NULL), -ENOENT);
}

static void stat_counts_size_and_allocation(void **state)
{
	struct ctx *c = *state;
	struct objstore_stat st;
	struct timespec t0;

	CHECK(objstore_create(c->s, 9, NULL));
	CHECK(objstore_stat(c->s, 9, &st, NULL));
	t0 = st.mtime;
	write_pattern(c->s, 9, 0, 256 * KiB, 9);
	CHECK(objstore_stat(c->s, 9, &st, NULL));
	assert_int_equal(st.size, 256 * KiB);
	if (st.allocated < 256 * KiB || st.allocated > 512 * KiB)
		fail_msg("256 KiB of data allocated %" PRIu64 " bytes",
			 st.allocated);
	assert_true(st.mtime.tv_sec > t0.tv_sec ||
		    (st.mtime.tv_sec == t0.tv_sec &&
		     st.mtime.tv_nsec >= t0.tv_nsec));
}

/* --- attributes ---------------------------------------------------------- */

static void attrs_set_replace_get_list_remove(void **state)
{
	struct ctx *c = *state;
	char buf[64], names[64];

	CHECK(objstore_create(c->s, 10, NULL));
	CHECK_ERR(objstore_listattr(c->s, 10, names, sizeof(names), NULL), 0);
	CHECK(objstore_setattr(c->s, 10, "user.b", "two", 3, NULL));
	CHECK(objstore_setattr(c->s, 10, "user.a", "one", 3, NULL));
	CHECK(objstore_setattr(c->s, 10, "empty", "", 0, NULL));
	CHECK_ERR(objstore_getattr(c->s, 10, "user.a", buf, sizeof(buf), NULL), 3);
	assert_memory_equal(buf, "one", 3);
	CHECK(objstore_setattr(c->s, 10, "user.a", "replaced", 8, NULL));
	CHECK_ERR(objstore_getattr(c->s, 10, "user.a", buf, sizeof(buf), NULL), 8);
	assert_memory_equal(buf, "replaced", 8);
	CHECK_ERR(objstore_getattr(c->s, 10, "user.a", NULL, 0, NULL), 8);
	CHECK_ERR(objstore_getattr(c->s, 10, "empty", buf, sizeof(buf), NULL), 0);
	CHECK_ERR(objstore_getattr(c->s, 10, "user.a", buf, 4, NULL), -ERANGE);
	CHECK_ERR(objstore_getattr(c->s, 10, "nope", buf, sizeof(buf), NULL),
		  -ENODATA);
	CHECK_ERR(objstore_listattr(c->s, 10, NULL, 0, NULL), 20);
	CHECK_ERR(objstore_listattr(c->s, 10, names, 19, NULL), -ERANGE);
	CHECK_ERR(objstore_listattr(c->s, 10, names, sizeof(names), NULL), 20);
	assert_memory_equal(names, "empty\0user.a\0user.b\0", 20);
	CHECK(objstore_rmattr(c->s, 10, "user.a", NULL));
	CHECK_ERR(objstore_rmattr(c->s, 10, "user.a", NULL), -ENODATA);
	CHECK_ERR(objstore_getattr(c->s, 10, "user.a", buf, sizeof(buf), NULL),
		  -ENODATA);
	CHECK_ERR(objstore_listattr(c->s, 10, names, sizeof(names), NULL), 13);
	assert_memory_equal(names, "empty\0user.b\0", 13);
	/* Attributes go with their object. */
	CHECK(objstore_remove(c->s, 10, NULL));
	CHECK(objstore_create(c->s, 10, NULL));
	CHECK_ERR(objstore_listattr(c->s, 10, names, sizeof(names), NULL), 0);
}

static void attr_values_up_to_64k(void **state)
{
	struct ctx *c = *state;
	unsigned char *val = malloc(OBJSTORE_ATTR_MAX + 1);
	unsigned char *got = malloc(OBJSTORE_ATTR_MAX + 1);
	char name[OBJSTORE_ATTR_NAME_MAX + 2];

	assert_non_null(val);
	assert_non_null(got);
	pattern_fill(val, OBJSTORE_ATTR_MAX + 1, 11, 0);
	CHECK(objstore_create(c->s, 11, NULL));
	CHECK(objstore_setattr(c->s, 11, "big", val, OBJSTORE_ATTR_MAX, NULL));
	CHECK_ERR(objstore_getattr(c->s, 11, "big", got, OBJSTORE_ATTR_MAX + 1,
				   NULL), OBJSTORE_ATTR_MAX);
	assert_memory_equal(got, val, OBJSTORE_ATTR_MAX);
	CHECK_ERR(objstore_setattr(c->s, 11, "big2", val, OBJSTORE_ATTR_MAX + 1,
				   NULL), -E2BIG);
	CHECK_ERR(objstore_getattr(c->s, 11, "big2", NULL, 0, NULL), -ENODATA);
	memset(name, 'n', sizeof(name));
	name[OBJSTORE_ATTR_NAME_MAX] = '\0';
	CHECK(objstore_setattr(c->s, 11, name, "x", 1, NULL));
	name[OBJSTORE_ATTR_NAME_MAX] = 'n';
	name[OBJSTORE_ATTR_NAME_MAX + 1] = '\0';
	CHECK_ERR(objstore_setattr(c->s, 11, name, "x", 1, NULL), -ENAMETOOLONG);
	free(val);
	free(got);
}

/* --- listing ------------------------------------------------------------- */

static void list_resumes_from_cursor_in_order(void **state)
{
	struct ctx *c = *state;
	uint64_t cursor = 0, ids[7], prev = 0, id;
	size_t n, i, seen = 0;

	for (id = 1; id <= 100; id++)
		CHECK(objstore_create(c->s, id * 3, NULL));
	for (;;) {
		CHECK(objstore_list(c->s, &cursor, ids, 7, &n, NULL));
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			if (ids[i] != (seen + 1) * 3)
				fail_msg("listing gave %" PRIu64 " where %zu was "
					 "due (after %" PRIu64 ")", ids[i],
					 (seen + 1) * 3, prev);
			prev = ids[i];
			seen++;
		}
		assert_int_equal(cursor, prev);
	}
	assert_int_equal(seen, 100);
	CHECK(objstore_list(c->s, &cursor, ids, 7, &n, NULL));
	assert_int_equal(n, 0);
}

static void list_survives_removal_during_listing(void **state)
{
	struct ctx *c = *state;
	uint64_t cursor = 0, ids[10], id;
	unsigned char seen[301] = { 0 }, removed[302] = { 0 };
	size_t n, i;

	for (id = 1; id <= 300; id++)
		CHECK(objstore_create(c->s, id, NULL));
	for (;;) {
		CHECK(objstore_list(c->s, &cursor, ids, 10, &n, NULL));
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			assert_true(ids[i] >= 1 && ids[i] <= 300);
			if (seen[ids[i]]++)
				fail_msg("object %" PRIu64 " listed twice", ids[i]);
		}
		/* Remove the object the cursor points at, and the next one
		 * when it is odd (an object still ahead of the listing). */
		CHECK(objstore_remove(c->s, cursor, NULL));
		removed[cursor] = 1;
		if (cursor < 300 && (cursor + 1) % 2) {
			CHECK(objstore_remove(c->s, cursor + 1, NULL));
			removed[cursor + 1] = 1;
		}
	}
	for (id = 1; id <= 300; id++)
		if (!removed[id] && !seen[id])
			fail_msg("object %" PRIu64 " existed throughout the "
				 "listing but was not listed", id);
}

/* --- transactions -------------------------------------------------------- */

static void txn_steps_see_earlier_steps(void **state)
{
	struct ctx *c = *state;
	struct objstore_txn *t = objstore_txn_new(c->s);
	unsigned char buf[300 * KiB];
	char val[8];

	assert_non_null(t);
	pattern_fill(buf, sizeof(buf), 12, 0);
	CHECK(objstore_txn_create(t, 12));
	CHECK(objstore_txn_write(t, 12, 0, buf, sizeof(buf)));
	CHECK(objstore_txn_truncate(t, 12, 70 * KiB + 1));
	CHECK(objstore_txn_truncate(t, 12, 200 * KiB));
	CHECK(objstore_txn_write(t, 12, 150 * KiB, buf + 150 * KiB, 10));
	CHECK(objstore_txn_setattr(t, 12, "k", "v1", 2));
	CHECK(objstore_txn_setattr(t, 12, "k", "v2", 2));
	CHECK(objstore_txn_create(t, 13));
	CHECK(objstore_txn_write(t, 13, 0, buf, 10));
	CHECK(objstore_txn_remove(t, 13));
	CHECK(objstore_txn_create(t, 13));
	assert_int_equal(objstore_txn_steps(t), 11);
	CHECK(objstore_txn_commit(t, NULL));
	objstore_txn_free(t);

	assert_int_equal(size_of(c->s, 12), 200 * KiB);
	expect_pattern(c->s, 12, 0, 70 * KiB + 1, 12);
	expect_zeros(c->s, 12, 70 * KiB + 1, 80 * KiB - 1);
	expect_pattern(c->s, 12, 150 * KiB, 10, 12);
	expect_zeros(c->s, 12, 150 * KiB + 10, 50 * KiB - 10);
	CHECK_ERR(objstore_getattr(c->s, 12, "k", val, sizeof(val), NULL), 2);
	assert_memory_equal(val, "v2", 2);
	assert_int_equal(size_of(c->s, 13), 0);
}

/* A store with a few objects, attributes, holes. */
static void populate(struct objstore *s)
{
	CHECK(objstore_create(s, 20, NULL));
	write_pattern(s, 20, 0, 100 * KiB, 20);
	CHECK(objstore_setattr(s, 20, "a", "1", 1, NULL));
	CHECK(objstore_create(s, 21, NULL));
	write_pattern(s, 21, 300 * KiB, 5000, 21);
	CHECK(objstore_create(s, 22, NULL));
}

/* Build a txn that does real work and then fails at the last step. */
static void failing_txn(struct ctx *c, int kind, int want)
{
	struct objstore_txn *t = objstore_txn_new(c->s);
	struct snapshot before, after;
	struct mixfs_err err = { 0 };
	unsigned char buf[64 * KiB];
	int ret;

	assert_non_null(t);
	snapshot_take(c->s, &before);
	pattern_fill(buf, sizeof(buf), 99, 0);
	CHECK(objstore_txn_write(t, 20, 10, buf, sizeof(buf)));
	CHECK(objstore_txn_truncate(t, 21, 1000));
	CHECK(objstore_txn_setattr(t, 20, "a", "changed", 7));
	CHECK(objstore_txn_rmattr(t, 20, "a"));
	CHECK(objstore_txn_create(t, 23));
	CHECK(objstore_txn_write(t, 23, 0, buf, sizeof(buf)));
	CHECK(objstore_txn_remove(t, 22));
	switch (kind) {
	case 0:		/* write to an object that never existed */
		CHECK(objstore_txn_write(t, 777, 0, buf, 10));
		break;
	case 1:		/* write to an object removed earlier in the txn */
		CHECK(objstore_txn_write(t, 22, 0, buf, 10));
		break;
	case 2:		/* more data than the store holds */
		for (int i = 0; i < 40; i++)
			CHECK(objstore_txn_write(t, 23, (uint64_t)i * sizeof(buf),
						 buf, sizeof(buf)));
		break;
	case 3:		/* create of an id in use */
		CHECK(objstore_txn_create(t, 21));
		break;
	case 4:		/* remove an attribute that is not there */
		CHECK(objstore_txn_rmattr(t, 21, "absent"));
		break;
	}
	ret = objstore_txn_commit(t, &err);
	objstore_txn_free(t);
	if (ret != want)
		fail_msg("failing transaction (kind %d) returned %d (%s), "
			 "expected %d", kind, ret, mixfs_err_msg(&err, ret), want);
	assert_true(err.msg[0] != '\0');
	snapshot_take(c->s, &after);
	if (c->b->atomic_txn) {
		assert_true(c->caps & OBJSTORE_CAP_ATOMIC_TXN);
		snapshot_assert_equal(&before, &after, "failed transaction");
	}
	snapshot_free(&before);
	snapshot_free(&after);
}

static void txn_failing_step_changes_nothing(void **state)
{
	struct ctx *c = *state;

	reopen(c, "?size=1M");
	populate(c->s);
	failing_txn(c, 0, -ENOENT);
	if (!c->b->atomic_txn)
		return;	/* the first steps stayed applied: nothing to compare */
	failing_txn(c, 1, -ENOENT);
	failing_txn(c, 3, -EEXIST);
	failing_txn(c, 4, -ENODATA);
	failing_txn(c, 2, -ENOSPC);
}

/* --- capacity ------------------------------------------------------------ */

static void enospc_changes_nothing(void **state)
{
	struct ctx *c = *state;
	struct objstore_statfs sf;
	struct snapshot before, after;
	struct mixfs_err err = { 0 };
	unsigned char *buf = malloc(1 * MiB);
	uint64_t off = 0;
	int ret;

	assert_non_null(buf);
	reopen(c, "?size=1M");
	CHECK(objstore_statfs(c->s, &sf, NULL));
	assert_int_equal(sf.capacity, 1 * MiB);
	CHECK(objstore_create(c->s, 30, NULL));
	CHECK(objstore_setattr(c->s, 30, "x", "y", 1, NULL));
	/* Fill in 64 KiB steps until the store says no. */
	pattern_fill(buf, 1 * MiB, 30, 0);
	for (;;) {
		ret = objstore_write(c->s, 30, off, buf, 64 * KiB, NULL);
		if (ret)
			break;
		off += 64 * KiB;
		assert_true(off <= 1 * MiB);
	}
	assert_int_equal(ret, -ENOSPC);
	assert_true(off >= 512 * KiB);
	snapshot_take(c->s, &before);
	CHECK_ERR(objstore_write(c->s, 30, off, buf, 64 * KiB, &err), -ENOSPC);
	assert_true(err.msg[0] != '\0');
	CHECK_ERR(objstore_write(c->s, 30, off + 10 * MiB, buf, 1 * MiB, NULL),
		  -ENOSPC);
	snapshot_take(c->s, &after);
	snapshot_assert_equal(&before, &after, "write past capacity");
	snapshot_free(&after);
	/* Overwriting held data needs no new space. */
	CHECK(objstore_write(c->s, 30, 0, buf, 64 * KiB, NULL));
	/* Freeing space makes room again. */
	CHECK(objstore_truncate(c->s, 30, 0, NULL));
	CHECK(objstore_write(c->s, 30, 0, buf, 256 * KiB, NULL));
	snapshot_free(&before);
	free(buf);
}

static void statfs_counts_objects_and_used(void **state)
{
	struct ctx *c = *state;
	struct objstore_statfs a, b;

	CHECK(objstore_statfs(c->s, &a, NULL));
	assert_int_equal(a.objects, 0);
	assert_int_equal(a.used, 0);
	assert_true(a.capacity > 16 * MiB);
	CHECK(objstore_create(c->s, 40, NULL));
	CHECK(objstore_create(c->s, 41, NULL));
	write_pattern(c->s, 40, 0, 200 * KiB, 40);
	write_pattern(c->s, 41, 5 * MiB, 100, 41);
	CHECK(objstore_statfs(c->s, &b, NULL));
	assert_int_equal(b.objects, 2);
	if (b.used < 200 * KiB || b.used > 1 * MiB)
		fail_msg("200 KiB + 100 bytes held, statfs says %" PRIu64, b.used);
	CHECK(objstore_remove(c->s, 40, NULL));
	CHECK(objstore_remove(c->s, 41, NULL));
	CHECK(objstore_statfs(c->s, &b, NULL));
	assert_int_equal(b.objects, 0);
	assert_int_equal(b.used, 0);
	CHECK(objstore_sync(c->s, NULL));
}

/* --- persistence --------------------------------------------------------- */

static void reopen_keeps_everything(void **state)
{
	struct ctx *c = *state;
	struct snapshot before, after;
	struct objstore_info i1, i2;

	assert_true(c->caps & OBJSTORE_CAP_PERSISTENT);
	populate(c->s);
	CHECK(objstore_truncate(c->s, 22, 12345, NULL));
	objstore_info(c->s, &i1);
	snapshot_take(c->s, &before);
	reopen(c, "");
	objstore_info(c->s, &i2);
	assert_memory_equal(i1.uuid, i2.uuid, 16);
	assert_int_equal(i2.format_version, i1.format_version);
	snapshot_take(c->s, &after);
	snapshot_assert_equal(&before, &after, "reopen");
	snapshot_free(&before);
	snapshot_free(&after);
}

/* --- huge offsets -------------------------------------------------------- */

static void huge_offsets_do_not_overflow(void **state)
{
	struct ctx *c = *state;
	const uint64_t max = OBJSTORE_MAX_SIZE;
	unsigned char buf[4096];
	struct objstore_stat st;

	CHECK(objstore_create(c->s, 50, NULL));
	CHECK(objstore_truncate(c->s, 50, max >> 1, NULL));
	CHECK(objstore_stat(c->s, 50, &st, NULL));
	assert_int_equal(st.size, max >> 1);
	assert_true(st.allocated < 1 * MiB);
	CHECK_ERR(objstore_read(c->s, 50, (max >> 1) - 100, buf, sizeof(buf),
				NULL), 100);
	assert_int_equal(first_nonzero(buf, 100), -1);
	write_pattern(c->s, 50, max - 4096, 4096, 50);
	assert_int_equal(size_of(c->s, 50), max);
	expect_pattern(c->s, 50, max - 4096, 4096, 50);
	CHECK_ERR(objstore_read(c->s, 50, max - 10, buf, sizeof(buf), NULL), 10);
	CHECK_ERR(objstore_read(c->s, 50, max, buf, sizeof(buf), NULL), 0);
	CHECK_ERR(objstore_write(c->s, 50, max - 1, buf, 2, NULL), -EFBIG);
	CHECK_ERR(objstore_truncate(c->s, 50, max + 1, NULL), -EFBIG);
	CHECK(objstore_punch(c->s, 50, 0, max, NULL));
	CHECK(objstore_stat(c->s, 50, &st, NULL));
	assert_int_equal(st.size, max);
	assert_int_equal(st.allocated, 0);
	CHECK(objstore_truncate(c->s, 50, 0, NULL));
}

/* --- concurrency --------------------------------------------------------- */

#define WRITERS 4
#define OBJS_PER_WRITER 2
#define REGION (96 * KiB)

struct conc {
	struct ctx *c;
	int index;
	atomic_int *stop;
	char failure[256];
};

/* Every write fills the whole region with one byte: (owner << 4) | gen. */
static void *writer_main(void *arg)
{
	struct conc *w = arg;
	unsigned char *buf = malloc(REGION), *back = malloc(REGION);
	int gen, k;

	for (gen = 1; gen <= 40 && !w->failure[0]; gen++) {
		for (k = 0; k < OBJS_PER_WRITER; k++) {
			uint64_t id = 100 + (uint64_t)w->index * 10 + (uint64_t)k;
			unsigned char v = (unsigned char)((w->index << 4) |
							  (gen & 15));
			ssize_t n;

			memset(buf, v, REGION);
			if (objstore_write(w->c->s, id, 0, buf, REGION, NULL) ||
			    objstore_setattr(w->c->s, id, "gen", &v, 1, NULL)) {
				snprintf(w->failure, sizeof(w->failure),
					 "writer %d: write to %" PRIu64 " failed",
					 w->index, id);
				break;
			}
			n = objstore_read(w->c->s, id, 0, back, REGION, NULL);
			if (n != REGION || memcmp(back, buf, REGION))
				snprintf(w->failure, sizeof(w->failure),
					 "writer %d: object %" PRIu64 " did not "
					 "read back its own write (gen %d)",
					 w->index, id, gen);
		}
	}
	free(buf);
	free(back);
	return NULL;
}

static void *reader_main(void *arg)
{
	struct conc *r = arg;
	unsigned char *buf = malloc(REGION);
	uint64_t rng = (uint64_t)r->index * 77 + 1;

	while (!atomic_load(r->stop) && !r->failure[0]) {
		int owner = (int)(rnd_next(&rng) % WRITERS);
		uint64_t id = 100 + (uint64_t)owner * 10 +
			rnd_next(&rng) % OBJS_PER_WRITER;
		ssize_t n = objstore_read(r->c->s, id, 0, buf, REGION, NULL);
		size_t i;

		if (n != REGION) {
			snprintf(r->failure, sizeof(r->failure),
				 "reader: object %" PRIu64 " read %zd bytes",
				 id, n);
			break;
		}
		for (i = 0; i < REGION; i++) {
			if ((buf[i] >> 4) != owner ||
			    (r->c->b->atomic_reads && buf[i] != buf[0])) {
				snprintf(r->failure, sizeof(r->failure),
					 "reader: object %" PRIu64 " byte %zu is "
					 "0x%02x, first byte 0x%02x: a torn or "
					 "foreign write", id, i, buf[i], buf[0]);
				break;
			}
		}
	}
	free(buf);
	return NULL;
}

/* A thread creating and removing its own objects while the others work. */
static void *churn_main(void *arg)
{
	struct conc *r = arg;
	uint64_t id;
	int i;

	for (i = 0; i < 200 && !atomic_load(r->stop) && !r->failure[0]; i++) {
		if (objstore_create_fresh(r->c->s, &id, NULL) ||
		    objstore_write(r->c->s, id, 0, "abc", 3, NULL) ||
		    objstore_remove(r->c->s, id, NULL))
			snprintf(r->failure, sizeof(r->failure),
				 "churn: create/write/remove failed at %d", i);
	}
	return NULL;
}

static void concurrent_readers_and_writers(void **state)
{
	struct ctx *c = *state;
	struct conc w[WRITERS], r[3];
	pthread_t wt[WRITERS], rt[3];
	atomic_int stop = 0;
	unsigned char *buf = malloc(REGION);
	int i, k;

	for (i = 0; i < WRITERS; i++) {
		for (k = 0; k < OBJS_PER_WRITER; k++) {
			uint64_t id = 100 + (uint64_t)i * 10 + (uint64_t)k;

			memset(buf, i << 4, REGION);
			CHECK(objstore_create(c->s, id, NULL));
			CHECK(objstore_write(c->s, id, 0, buf, REGION, NULL));
		}
		w[i] = (struct conc){ .c = c, .index = i, .stop = &stop };
		assert_int_equal(pthread_create(&wt[i], NULL, writer_main, &w[i]),
				 0);
	}
	for (i = 0; i < 3; i++) {
		r[i] = (struct conc){ .c = c, .index = i, .stop = &stop };
		assert_int_equal(pthread_create(&rt[i], NULL, i == 2 ? churn_main :
						reader_main, &r[i]), 0);
	}
	for (i = 0; i < WRITERS; i++)
		pthread_join(wt[i], NULL);
	atomic_store(&stop, 1);
	for (i = 0; i < 3; i++)
		pthread_join(rt[i], NULL);
	for (i = 0; i < WRITERS; i++)
		if (w[i].failure[0])
			fail_msg("%s", w[i].failure);
	for (i = 0; i < 3; i++)
		if (r[i].failure[0])
			fail_msg("%s", r[i].failure);
	/* Each object ends with its owner's last generation, data and attr. */
	for (i = 0; i < WRITERS; i++) {
		for (k = 0; k < OBJS_PER_WRITER; k++) {
			uint64_t id = 100 + (uint64_t)i * 10 + (uint64_t)k;
			unsigned char v = (unsigned char)((i << 4) | (40 & 15)), a;

			memset(buf, v, REGION);
			assert_int_equal(objstore_read(c->s, id, 0, buf, REGION,
						       NULL), REGION);
			for (size_t j = 0; j < REGION; j++)
				if (buf[j] != v)
					fail_msg("object %" PRIu64 " ends with 0x%02x "
						 "at %zu, expected 0x%02x", id,
						 buf[j], j, v);
			CHECK_ERR(objstore_getattr(c->s, id, "gen", &a, 1, NULL), 1);
			assert_int_equal(a, v);
		}
	}
	free(buf);
}

/* --- the table ----------------------------------------------------------- */

struct behaviour {
	const char *name;
	CMUnitTestFunction fn;
	bool persistent_only;
};

#define B(f) { #f, f, false }
static const struct behaviour behaviours[] = {
	B(create_stat_remove),
	B(create_fresh_never_reuses_ids),
	B(holes_read_as_zeros),
	B(writes_across_chunk_boundaries_read_back),
	B(read_past_end_is_short),
	B(truncate_down_drops_data_past_size),
	B(truncate_up_adds_a_hole),
	B(punch_makes_a_hole_and_keeps_size),
	B(seek_finds_data_and_holes),
	B(stat_counts_size_and_allocation),
	B(attrs_set_replace_get_list_remove),
	B(attr_values_up_to_64k),
	B(list_resumes_from_cursor_in_order),
	B(list_survives_removal_during_listing),
	B(txn_steps_see_earlier_steps),
	B(txn_failing_step_changes_nothing),
	B(enospc_changes_nothing),
	B(statfs_counts_objects_and_used),
	{ "reopen_keeps_everything", reopen_keeps_everything, true },
	B(huge_offsets_do_not_overflow),
	B(concurrent_readers_and_writers),
};

int main(void)
{
	const char *rados = getenv("MIXFS_RADOS_URI");
	const size_t nb = sizeof(backends) / sizeof(backends[0]) - !rados;
	const size_t nt = sizeof(behaviours) / sizeof(behaviours[0]);
	struct CMUnitTest *tests = calloc(nb * nt, sizeof(*tests));
	char **names = calloc(nb * nt, sizeof(*names));
	size_t i, j, n = 0;
	int ret;

	assert_non_null(tests);
	test_seed();
	if (rados)
		snprintf(rados_fmt, sizeof(rados_fmt), "%s%cnamespace=%%s%%s",
			 rados, strchr(rados, '?') ? '&' : '?');
	else
		printf("# rados: left out: no test cluster (MIXFS_RADOS_URI "
		       "unset)\n");
	for (i = 0; i < nb; i++) {
		for (j = 0; j < nt; j++) {
			if (behaviours[j].persistent_only && !backends[i].persistent)
				continue;
			if (asprintf(&names[n], "%s/%s", backends[i].name,
				     behaviours[j].name) < 0)
				return 1;
			tests[n] = (struct CMUnitTest){
				.name = names[n],
				.test_func = behaviours[j].fn,
				.setup_func = case_setup,
				.teardown_func = case_teardown,
				.initial_state = (void *)&backends[i],
			};
			n++;
		}
	}
	ret = _cmocka_run_group_tests("objstore_conformance", tests, n, NULL,
				      NULL);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(tests);
	return ret;
}
