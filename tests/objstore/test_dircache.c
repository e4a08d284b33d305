/*
 * test_dircache.c - the dir: store keeps recently used objects open between
 * calls; these tests prove that doing so changes nothing a caller can see.
 *
 * - A removed object is never written through a file it had open: after
 *   remove and create of the same id, the bytes land in the new object's
 *   files on the host, and the old data never shows.
 * - A truncate that deletes a segment's files closes them too.
 * - Past the cache bound (cache=N), objects are closed and reopened with
 *   their data intact, and the process holds no more files than the bound
 *   allows; cache=0 holds none between calls.
 * - Threads writing different objects, and threads writing and reading one
 *   object, keep every byte, never see a torn 4 KiB write, never trip a
 *   checksum, and leave the space counters equal to the sum of the objects.
 * - Concurrent writers never push the store past its capacity.
 *
 * Random steps are seeded: MIXFS_SEED=n repeats a run; failures name the
 * seed. MIXFS_LONG=1 runs ten times as many steps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "objstore/objstore.h"

#define CHECK(call) do {						\
	long r_ = (long)(call);						\
	if (r_ < 0)							\
		fail_msg("%s failed: %s (seed %" PRIu64 ")", #call,	\
			 strerror((int)-r_), seed);			\
} while (0)

#define CHECK_ERR(call, want) do {					\
	long r_ = (long)(call);						\
	if (r_ != (want))						\
		fail_msg("%s returned %ld (%s), expected %s", #call, r_,	\
			 r_ < 0 ? strerror((int)-r_) : "success", #want);	\
} while (0)

#define BLK 4096

static uint64_t seed;
static unsigned scale = 1;	/* 10 with MIXFS_LONG=1 */

struct fix {
	char top[256];		/* mkdtemp directory */
	char path[300];		/* the store inside it */
	char uri[340];
	struct objstore *s;
};

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static void open_store(struct fix *f, const char *query)
{
	struct mixfs_err err = { 0 };
	int ret;

	snprintf(f->uri, sizeof(f->uri), "dir:%s%s", f->path, query);
	ret = objstore_open(f->uri, OBJSTORE_OPEN_CREATE, &f->s, &err);
	if (ret)
		fail_msg("opening %s: %s", f->uri, mixfs_err_msg(&err, ret));
}

static void reopen(struct fix *f, const char *query)
{
	CHECK(objstore_close(f->s));
	f->s = NULL;
	open_store(f, query);
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(f);
	snprintf(f->top, sizeof(f->top), "%s/mixfs-dircache-XXXXXX",
		 tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->top));
	snprintf(f->path, sizeof(f->path), "%s/store", f->top);
	open_store(f, "");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	objstore_close(f->s);
	nftw(f->top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Bytes of file @name of object @id as the host sees them; -1 if absent. */
static ssize_t host_read(struct fix *f, uint64_t id, const char *name,
			 uint64_t off, void *buf, size_t len)
{
	char path[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/objects/%016" PRIx64 "/%s", f->path,
		 id, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = pread(fd, buf, len, (off_t)off);
	close(fd);
	return n;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the one opendir holds */
}

static void stamp(unsigned char *buf, size_t len, uint64_t tag)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(tag * 131 + i * 7 + (i >> 8));
}

/* --- remove, recreate, truncate ------------------------------------------ */

static void write_remove_recreate_same_id_writes_the_new_files(void **state)
{
	struct fix *f = *state;
	unsigned char old[3 * BLK], buf[3 * BLK], host[3 * BLK];
	struct objstore_stat st;
	int round;

	for (round = 0; round < 20; round++) {
		stamp(old, sizeof(old), (uint64_t)round * 2);
		stamp(buf, BLK, (uint64_t)round * 2 + 1);
		CHECK(objstore_create(f->s, 7, NULL));
		CHECK(objstore_write(f->s, 7, 0, old, sizeof(old), NULL));
		CHECK_ERR(objstore_read(f->s, 7, 0, host, sizeof(host), NULL),
			  (long)sizeof(host));	/* the files are open now */
		CHECK(objstore_remove(f->s, 7, NULL));
		/* Gone means gone, even with its files open a moment ago. */
		CHECK_ERR(objstore_write(f->s, 7, 0, buf, BLK, NULL), -ENOENT);
		CHECK_ERR(objstore_read(f->s, 7, 0, host, BLK, NULL), -ENOENT);
		if (host_read(f, 7, "meta", 0, host, 1) >= 0)
			fail_msg("round %d: a write after remove made files",
				 round);
		CHECK(objstore_create(f->s, 7, NULL));
		CHECK(objstore_stat(f->s, 7, &st, NULL));
		if (st.size != 0 || st.allocated != 0)
			fail_msg("round %d: recreated object has size %" PRIu64
				 ", %" PRIu64 " allocated: the old one shows",
				 round, st.size, st.allocated);
		CHECK(objstore_write(f->s, 7, BLK, buf, BLK, NULL));
		/* The bytes are in the new object's file on the host. */
		if (host_read(f, 7, "0", BLK, host, BLK) != BLK ||
		    memcmp(host, buf, BLK))
			fail_msg("round %d: the write did not reach the new "
				 "object's data file", round);
		CHECK_ERR(objstore_read(f->s, 7, 0, host, sizeof(host), NULL),
			  2 * BLK);
		if (host[0] != 0 || memcmp(host + BLK, buf, BLK))
			fail_msg("round %d: recreated object reads old bytes",
				 round);
		CHECK(objstore_remove(f->s, 7, NULL));
	}
	reopen(f, "");
	CHECK_ERR(objstore_stat(f->s, 7, &st, NULL), -ENOENT);
}

static void truncate_that_deletes_a_segment_closes_its_files(void **state)
{
	struct fix *f = *state;
	uint64_t seg1 = UINT64_C(1) << 40;
	unsigned char a[BLK], b[BLK], back[BLK];

	stamp(a, BLK, 1);
	stamp(b, BLK, 2);
	CHECK(objstore_create(f->s, 9, NULL));
	CHECK(objstore_write(f->s, 9, 0, a, BLK, NULL));
	CHECK(objstore_write(f->s, 9, seg1, a, BLK, NULL));
	CHECK_ERR(objstore_read(f->s, 9, seg1, back, BLK, NULL), BLK);
	CHECK(objstore_truncate(f->s, 9, 100, NULL));
	if (host_read(f, 9, "1", 0, back, 1) >= 0)
		fail_msg("segment 1's data file outlived the truncate");
	CHECK(objstore_write(f->s, 9, seg1 + BLK, b, BLK, NULL));
	if (host_read(f, 9, "1", BLK, back, BLK) != BLK || memcmp(back, b, BLK))
		fail_msg("the write after truncate went to a deleted file");
	CHECK_ERR(objstore_read(f->s, 9, seg1, back, BLK, NULL), BLK);
	if (back[0] || memcmp(back, back + 1, BLK - 1))
		fail_msg("bytes cut off by the truncate came back");
	CHECK_ERR(objstore_read(f->s, 9, seg1 + BLK, back, BLK, NULL), BLK);
	assert_memory_equal(back, b, BLK);
	CHECK_ERR(objstore_read(f->s, 9, 0, back, BLK, NULL), BLK);
	assert_memory_equal(back, a, 100);
	if (back[100] || memcmp(back + 100, back + 101, BLK - 101))
		fail_msg("the tail of the cut chunk is not zeros");
}

/* --- the bound -------------------------------------------------------------- */

/* Write @n objects in seeded random order, four rounds, then read them
 * all back; the open files must stay within @max_fds of where they
 * started. */
static void churn(struct fix *f, unsigned n, int max_fds)
{
	unsigned char buf[BLK], back[BLK];
	uint64_t x = seed | 1, id;
	int base = open_fds(), most = 0, now;
	unsigned i, round;

	for (id = 1; id <= n; id++)
		CHECK(objstore_create(f->s, id, NULL));
	for (round = 0; round < 4; round++) {
		for (i = 0; i < n; i++) {
			id = rnd(&x) % n + 1;
			stamp(buf, BLK, id * 4 + round);
			CHECK(objstore_write(f->s, id, (uint64_t)round * BLK,
					     buf, BLK, NULL));
			/* And a read of another, to mix the order of use. */
			CHECK(objstore_read(f->s, id % n + 1,
					    (uint64_t)round * BLK, back, BLK,
					    NULL));
			if (i % 16)	/* counting takes longer than a call */
				continue;
			now = open_fds() - base;
			most = now > most ? now : most;
		}
		/* Objects the random order missed still get this round. */
		for (id = 1; id <= n; id++) {
			stamp(buf, BLK, id * 4 + round);
			CHECK(objstore_write(f->s, id, (uint64_t)round * BLK,
					     buf, BLK, NULL));
		}
	}
	for (id = 1; id <= n; id++)
		for (round = 0; round < 4; round++) {
			stamp(buf, BLK, id * 4 + round);
			CHECK_ERR(objstore_read(f->s, id, (uint64_t)round * BLK,
						back, BLK, NULL), BLK);
			if (memcmp(back, buf, BLK))
				fail_msg("object %" PRIu64 " block %u lost its "
					 "data (seed %" PRIu64 ")", id, round,
					 seed);
		}
	now = open_fds() - base;
	most = now > most ? now : most;
	if (most > max_fds)
		fail_msg("%d files open at most for %u objects, more than the "
			 "%d the bound allows", most, n, max_fds);
}

static void objects_beyond_the_bound_are_closed_and_keep_their_data(void **state)
{
	struct fix *f = *state;

	reopen(f, "?cache=4");
	/* Four objects, each its directory, meta, data and checksums. */
	churn(f, 60, 4 * 4);
}

static void default_bound_holds_a_few_hundred_objects(void **state)
{
	struct fix *f = *state;

	churn(f, 300, 256 * 4);
}

static void cache_zero_holds_no_files_between_calls(void **state)
{
	struct fix *f = *state;

	reopen(f, "?cache=0");
	churn(f, 10, 0);
}

static void bad_cache_parameter_is_refused(void **state)
{
	struct fix *f = *state;
	struct mixfs_err err = { 0 };
	struct objstore *s;
	char uri[400];

	CHECK(objstore_close(f->s));
	f->s = NULL;
	snprintf(uri, sizeof(uri), "dir:%s?cache=lots", f->path);
	CHECK_ERR(objstore_open(uri, 0, &s, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "cache"));
	snprintf(uri, sizeof(uri), "dir:%s?cache=99999999999", f->path);
	CHECK_ERR(objstore_open(uri, 0, &s, NULL), -EINVAL);
	open_store(f, "?cache=1");
}

/* --- threads ---------------------------------------------------------------- */

struct worker {
	struct fix *f;
	pthread_t th;
	unsigned no;		/* thread number */
	uint64_t id;		/* its object (different-objects test) */
	unsigned steps;
	unsigned char *mirror;	/* what its object must hold */
	uint64_t size;
	char fail[240];		/* what went wrong, "" if nothing */
};

#define SPAN	(64 * BLK)	/* each object's bytes in the tests below */

static void *own_object(void *arg)
{
	struct worker *w = arg;
	uint64_t x = (seed ^ (w->no * 0x9e3779b97f4a7c15ull)) | 1;
	unsigned char buf[3 * BLK];
	unsigned i;

	for (i = 0; i < w->steps && !w->fail[0]; i++) {
		uint64_t off = rnd(&x) % (SPAN - sizeof(buf));
		size_t len = 1 + rnd(&x) % sizeof(buf);
		unsigned op = rnd(&x) % 8;
		long r;

		if (op < 5) {
			stamp(buf, len, rnd(&x));
			r = objstore_write(w->f->s, w->id, off, buf, len, NULL);
			if (!r) {
				memcpy(w->mirror + off, buf, len);
				if (off + len > w->size)
					w->size = off + len;
			}
		} else if (op < 7) {
			uint64_t want = off >= w->size ? 0 :
				w->size - off < len ? w->size - off : len;

			r = objstore_read(w->f->s, w->id, off, buf, len, NULL);
			if (r == (long)want && memcmp(buf, w->mirror + off, want))
				snprintf(w->fail, sizeof(w->fail), "object %"
					 PRIu64 " reads wrong bytes at %" PRIu64
					 " (step %u)", w->id, off, i);
			r = r == (long)want ? 0 : r < 0 ? r : -EIO;
		} else {
			r = objstore_truncate(w->f->s, w->id, off, NULL);
			if (!r && off < w->size)
				memset(w->mirror + off, 0, w->size - off);
			if (!r)
				w->size = off;
		}
		if (r && !w->fail[0])
			snprintf(w->fail, sizeof(w->fail), "object %" PRIu64
				 " step %u (op %u at %" PRIu64 "): %s", w->id,
				 i, op, off, strerror((int)-r));
	}
	return NULL;
}

static void run_workers(struct worker *w, unsigned n, void *(*fn)(void *))
{
	unsigned i;

	for (i = 0; i < n; i++)
		assert_int_equal(pthread_create(&w[i].th, NULL, fn, &w[i]), 0);
	for (i = 0; i < n; i++)
		pthread_join(w[i].th, NULL);
	for (i = 0; i < n; i++)
		if (w[i].fail[0])
			fail_msg("thread %u: %s (seed %" PRIu64 ")", i,
				 w[i].fail, seed);
}

/* The store's used bytes must be the sum of the objects' allocated. */
static void check_used_is_sum(struct fix *f, const uint64_t *ids, unsigned n)
{
	struct objstore_statfs sf;
	struct objstore_stat st;
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		CHECK(objstore_stat(f->s, ids[i], &st, NULL));
		sum += st.allocated;
	}
	CHECK(objstore_statfs(f->s, &sf, NULL));
	if (sf.used != sum)
		fail_msg("statfs says %" PRIu64 " bytes used, the objects "
			 "hold %" PRIu64 " (seed %" PRIu64 ")", sf.used, sum,
			 seed);
}

static void writers_on_different_objects_keep_every_byte(void **state)
{
	struct fix *f = *state;
	unsigned char *back = malloc(SPAN);
	struct worker w[6];
	uint64_t ids[6];
	unsigned i;

	assert_non_null(back);
	/* A bound below the thread count: objects are closed and reopened
	 * while the others are busy. */
	reopen(f, "?cache=2");
	memset(w, 0, sizeof(w));
	for (i = 0; i < 6; i++) {
		w[i] = (struct worker){ .f = f, .no = i, .id = 100 + i,
					.steps = 600 * scale };
		w[i].mirror = calloc(1, SPAN);
		assert_non_null(w[i].mirror);
		ids[i] = w[i].id;
		CHECK(objstore_create(f->s, w[i].id, NULL));
	}
	run_workers(w, 6, own_object);
	check_used_is_sum(f, ids, 6);
	reopen(f, "");
	for (i = 0; i < 6; i++) {
		CHECK_ERR(objstore_read(f->s, w[i].id, 0, back, SPAN, NULL),
			  (long)w[i].size);
		if (memcmp(back, w[i].mirror, w[i].size))
			fail_msg("object %" PRIu64 " differs after reopen "
				 "(seed %" PRIu64 ")", w[i].id, seed);
		free(w[i].mirror);
	}
	check_used_is_sum(f, ids, 6);
	free(back);
}

/*
 * Several threads write whole 4 KiB blocks of one object, each block
 * stamped with its writer's tag throughout; others read blocks. Every
 * block read must be all one stamp: one write or the other, never a mix,
 * and never a checksum error.
 */
static void *same_object(void *arg)
{
	struct worker *w = arg;
	uint64_t x = (seed ^ (w->no * 0x9e3779b97f4a7c15ull)) | 1;
	unsigned char buf[BLK], want[BLK];
	unsigned i;

	for (i = 0; i < w->steps && !w->fail[0]; i++) {
		uint64_t blk = rnd(&x) % (SPAN / BLK), tag;
		long r;

		if (w->no % 2 == 0) {
			tag = (uint64_t)(w->no + 1) << 32 | i;
			memset(buf, 0, 8);
			memcpy(buf, &tag, 8);
			stamp(buf + 8, BLK - 8, tag);
			r = objstore_write(w->f->s, 1, blk * BLK, buf, BLK, NULL);
		} else {
			r = objstore_read(w->f->s, 1, blk * BLK, buf, BLK, NULL);
			if (r == BLK) {
				r = 0;
				memcpy(&tag, buf, 8);
				stamp(want + 8, BLK - 8, tag);
				if (tag && memcmp(buf + 8, want + 8, BLK - 8))
					snprintf(w->fail, sizeof(w->fail),
						 "block %" PRIu64 " mixes two "
						 "writes (step %u)", blk, i);
				if (!tag && (buf[8] || memcmp(buf + 8, buf + 9,
							      BLK - 9)))
					snprintf(w->fail, sizeof(w->fail),
						 "block %" PRIu64 " is neither "
						 "a hole nor a write", blk);
			} else if (r >= 0) {
				r = -EIO;
			}
		}
		if (r && !w->fail[0])
			snprintf(w->fail, sizeof(w->fail), "step %u on block %"
				 PRIu64 ": %s", i, blk, strerror((int)-r));
	}
	return NULL;
}

static void writers_and_readers_on_one_object_never_see_a_torn_block(void **state)
{
	struct fix *f = *state;
	unsigned char zero[BLK] = { 0 };
	struct worker w[6];
	uint64_t one = 1;
	unsigned i;

	CHECK(objstore_create(f->s, 1, NULL));
	/* Size it first, so readers get whole blocks from the start. */
	CHECK(objstore_write(f->s, 1, SPAN - BLK, zero, BLK, NULL));
	memset(w, 0, sizeof(w));
	for (i = 0; i < 6; i++)
		w[i] = (struct worker){ .f = f, .no = i, .steps = 1500 * scale };
	run_workers(w, 6, same_object);
	check_used_is_sum(f, &one, 1);
}

static void *fill_until_full(void *arg)
{
	struct worker *w = arg;
	unsigned char buf[2 * BLK];
	uint64_t off;
	long r = 0;

	stamp(buf, sizeof(buf), w->no);
	for (off = 0; off < SPAN; off += sizeof(buf)) {
		r = objstore_write(w->f->s, w->id, off, buf, sizeof(buf), NULL);
		if (r)
			break;
	}
	if (r && r != -ENOSPC)
		snprintf(w->fail, sizeof(w->fail), "write at %" PRIu64 ": %s",
			 off, strerror((int)-r));
	return NULL;
}

static void concurrent_writers_stop_at_the_capacity(void **state)
{
	struct fix *f = *state;
	struct objstore_statfs sf;
	struct worker w[4];
	uint64_t ids[4];
	unsigned i;

	reopen(f, "?size=200K");
	memset(w, 0, sizeof(w));
	for (i = 0; i < 4; i++) {
		w[i] = (struct worker){ .f = f, .no = i, .id = 10 + i };
		ids[i] = w[i].id;
		CHECK(objstore_create(f->s, w[i].id, NULL));
	}
	run_workers(w, 4, fill_until_full);
	CHECK(objstore_statfs(f->s, &sf, NULL));
	if (sf.used > sf.capacity || sf.used + 2 * BLK <= sf.capacity)
		fail_msg("writers stopped with %" PRIu64 " of %" PRIu64
			 " bytes used", sf.used, sf.capacity);
	check_used_is_sum(f, ids, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(write_remove_recreate_same_id_writes_the_new_files),
		T(truncate_that_deletes_a_segment_closes_its_files),
		T(objects_beyond_the_bound_are_closed_and_keep_their_data),
		T(default_bound_holds_a_few_hundred_objects),
		T(cache_zero_holds_no_files_between_calls),
		T(bad_cache_parameter_is_refused),
		T(writers_on_different_objects_keep_every_byte),
		T(writers_and_readers_on_one_object_never_see_a_torn_block),
		T(concurrent_writers_stop_at_the_capacity),
#undef T
	};
	const char *e = getenv("MIXFS_SEED");

	seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL);
	if (!seed)
		seed = 1;
	if (getenv("MIXFS_LONG") && !strcmp(getenv("MIXFS_LONG"), "1"))
		scale = 10;
	printf("# seed %" PRIu64 " (MIXFS_SEED)\n", seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
