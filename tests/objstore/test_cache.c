/*
 * test_cache.c - the cache: backend. Two parts in one program:
 *
 * - the conformance suite of test_conformance.c, written once, run here on
 *   cache: over mem: and dir: (and over rados: where ceph_cluster.sh runs a
 *   test cluster), with a bound small enough that the suite's objects
 *   evict each other;
 * - what only a cache owes: hits and misses, one piece fetched for a small
 *   read of a huge object, the bound under a read of 4x it, LRU order,
 *   checksum repair, local failures, write-through durability, no stale
 *   reads after any change (a seeded random run against a model), reopen,
 *   a remote changed while the cache was closed, a crash.
 *
 * The suite is taken in by including its source, so that its behaviours
 * table is not copied; its own main() is renamed away.
 */
#define main conformance_main
#include "test_conformance.c"
#undef main

#include <fcntl.h>
#include <sys/wait.h>

#include "objstore/objstore_cache.h"
#include "objstore/objstore_faulty.h"

#define PIECE (64u * 1024u)
/* pattern_fill() mixes a seed in below bit 13 only, which its shifts drop:
 * seeds must differ above that to give different bytes. */
#define SEED(n) ((uint64_t)(n) << 32)

/* --- the conformance suite on cache: ------------------------------------- */

static char cache_rados_fmt[1400];

static const struct backend cache_backends[] = {
	{ "cache-mem", "cache:local=[mem:],max=1M,piece=64K:mem:%.0s%s",
	  false, true, true },
	{ "cache-dir",
	  "cache:local=[dir:%1$s-local],max=1M,piece=64K:dir:%1$s%2$s",
	  true, false, true },
	{ "cache-rados", cache_rados_fmt, true, false, true },
};

/* --- helpers ------------------------------------------------------------- */

static struct objstore *open_uri(const char *uri)
{
	struct mixfs_err err = { 0 };
	struct objstore *s;
	int ret = objstore_open(uri, OBJSTORE_OPEN_CREATE, &s, &err);

	if (ret)
		fail_msg("opening %s failed: %s", uri, mixfs_err_msg(&err, ret));
	return s;
}

static struct objstore_cache_stats stats(struct objstore *s)
{
	struct objstore_cache_stats st;

	CHECK(objstore_cache_stats(s, &st));
	return st;
}

/* Reads that reached the remote, through the faulty: wrapper around it. */
static uint64_t remote_reads(struct objstore *s)
{
	struct objstore_faulty_counters c;

	CHECK(objstore_faulty_counters(objstore_cache_remote(s), &c));
	return c.calls[OBJSTORE_FAULTY_READ];
}

/* A fresh temporary directory; stores go in it, removed at teardown. */
struct tmp {
	char dir[256];
};

static int tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "%s/mixfs-cache-XXXXXX",
		 tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(t->dir));
	*state = t;
	return 0;
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;

	nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

/* The URI of a cache with a dir: local store and a faulty::dir: remote in
 * @t's directory. */
static void dir_uri(const struct tmp *t, char *buf, size_t cap,
		    const char *max)
{
	snprintf(buf, cap, "cache:local=[dir:%s/local],max=%s,piece=64K:"
		 "faulty::dir:%s/remote", t->dir, max, t->dir);
}

static void fill_object(struct objstore *s, uint64_t id, size_t size,
			uint64_t seed)
{
	CHECK(objstore_create(s, id, NULL));
	write_pattern(s, id, 0, size, seed);
}

struct warned {
	unsigned n[3];
	int code;
};

static void on_warn(void *arg, enum objstore_cache_warning what, int code,
		    uint64_t id, uint64_t off, const char *msg)
{
	struct warned *w = arg;

	(void)id; (void)off;
	assert_non_null(msg);
	assert_true(msg[0] != '\0');
	w->n[what]++;
	w->code = code;
}

/* --- URIs ---------------------------------------------------------------- */

static void uri_nests_local_and_remote_uris(void **state)
{
	struct tmp *t = *state;
	struct objstore_info info;
	struct objstore *s;
	char uri[1024];

	/* A local URI holding ':' ',' '?' '&' and brackets of its own, and a
	 * remote that is itself a wrapper with a query. */
	snprintf(uri, sizeof(uri),
		 "cache:max=2M,local=[faulty:op=stat,delay=1us:dir:%s/l:x?cache=4]"
		 ",piece=128K:faulty::cache:local=[mem:],max=1M:mem:?size=8M",
		 t->dir);
	s = open_uri(uri);
	objstore_info(s, &info);
	assert_string_equal(info.backend, "cache");
	assert_true(objstore_is_cache(s));
	assert_true(objstore_is_faulty(objstore_cache_local(s)));
	assert_true(objstore_is_faulty(objstore_cache_remote(s)));
	assert_int_equal(stats(s).piece, 128 * 1024);
	assert_int_equal(stats(s).max, 2u << 20);
	fill_object(s, 1, 300000, SEED(5));
	expect_pattern(s, 1, 0, 300000, SEED(5));
	CHECK(objstore_close(s));
}

static void uri_errors_name_the_problem(void **state)
{
	static const char *const bad[] = {
		"cache:max=1M:mem:",			/* no local */
		"cache:local=[mem:]:mem:",		/* no max */
		"cache:local=[mem:],max=1M",		/* no remote */
		"cache:local=[mem:],max=1M:",		/* empty remote */
		"cache:local=[mem:,max=1M:mem:",	/* unclosed */
		"cache:local=[],max=1M:mem:",		/* empty local */
		"cache:local=[mem:],max=1M,piece=3000:mem:",
		"cache:local=[mem:],max=1M,piece=64M:mem:",
		"cache:local=[mem:],max=0:mem:",
		"cache:local=[mem:],max=1M,max=2M:mem:",
		"cache:local=[mem:],max=1M,colour=red:mem:",
		"cache:local=mem:,max=1M:mem:",
		"cache:local=[mem:],max=1M:nosuch:",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mixfs_err err = { 0 };
		struct objstore *s = NULL;
		int ret = objstore_open(bad[i], OBJSTORE_OPEN_CREATE, &s, &err);

		if (ret != -EINVAL)
			fail_msg("'%s' opened with %d, expected -EINVAL", bad[i],
				 ret);
		assert_null(s);
		if (!err.msg[0])
			fail_msg("'%s' failed without a message", bad[i]);
	}
}

/* --- hits, misses, pieces ---------------------------------------------- */

static void second_read_is_a_hit_and_skips_the_remote(void **state)
{
	struct tmp *t = *state;
	struct objstore *s;
	char uri[600];
	uint64_t before;

	dir_uri(t, uri, sizeof(uri), "4M");
	s = open_uri(uri);
	fill_object(s, 3, 1 << 20, SEED(11));
	before = remote_reads(s);
	expect_pattern(s, 3, 300000, 4096, SEED(11));
	assert_int_equal(remote_reads(s) - before, 1);
	assert_int_equal(stats(s).misses, 1);
	assert_int_equal(stats(s).fills, 1);
	assert_int_equal(stats(s).hits, 0);
	expect_pattern(s, 3, 300000, 4096, SEED(11));
	expect_pattern(s, 3, 262144, 65536, SEED(11));	/* the same piece */
	assert_int_equal(remote_reads(s) - before, 1);
	assert_int_equal(stats(s).hits, 2);
	/* A read across four pieces, one of them cached: the three missing
	 * ones (two neighbours in one remote call, one alone). */
	expect_pattern(s, 3, 131072, 4 * PIECE, SEED(11));
	assert_int_equal(remote_reads(s) - before, 3);
	assert_int_equal(stats(s).misses, 4);
	expect_pattern(s, 3, 131072, 4 * PIECE, SEED(11));
	assert_int_equal(remote_reads(s) - before, 3);
	CHECK(objstore_close(s));
}

static void small_read_of_huge_object_fetches_one_piece(void **state)
{
	struct tmp *t = *state;
	struct objstore_statfs sf;
	struct objstore *s;
	char uri[600];
	uint64_t before;

	dir_uri(t, uri, sizeof(uri), "8M");
	s = open_uri(uri);
	CHECK(objstore_create(s, 9, NULL));
	write_pattern(s, 9, UINT64_C(6) << 30, 4096, SEED(2));  /* 6 GiB, sparse */
	write_pattern(s, 9, UINT64_C(3) << 30, 8192, SEED(3));
	before = remote_reads(s);
	expect_pattern(s, 9, (UINT64_C(3) << 30) + 4096, 4096, SEED(3));
	assert_int_equal(remote_reads(s) - before, 1);
	assert_int_equal(stats(s).fills, 1);
	CHECK(objstore_statfs(objstore_cache_local(s), &sf, NULL));
	if (sf.used > PIECE)
		fail_msg("a 4 KiB read left %llu bytes in the local store",
			 (unsigned long long)sf.used);
	expect_pattern(s, 9, UINT64_C(6) << 30, 4096, SEED(2));
	expect_zeros(s, 9, UINT64_C(5) << 30, 4096);
	CHECK(objstore_close(s));
}

static void read_of_four_times_the_bound_stays_within_it(void **state)
{
	struct tmp *t = *state;
	const size_t size = 4u << 20, bound = 1u << 20;
	struct objstore_statfs sf;
	struct objstore *s;
	uint64_t rng = test_seed(), off;
	char uri[600];
	int i;

	dir_uri(t, uri, sizeof(uri), "1M");
	s = open_uri(uri);
	fill_object(s, 4, size, SEED(7));
	fill_object(s, 5, size, SEED(8));
	/* Sequentially, in one call per 256 KiB, then at random. */
	for (off = 0; off < size; off += 256 * 1024) {
		expect_pattern(s, 4, off, 256 * 1024, SEED(7));
		CHECK(objstore_statfs(objstore_cache_local(s), &sf, NULL));
		if (sf.used > bound || stats(s).used > bound)
			fail_msg("after reading to %llu the local store holds "
				 "%llu bytes (cache counts %llu), bound %zu",
				 (unsigned long long)off,
				 (unsigned long long)sf.used,
				 (unsigned long long)stats(s).used, bound);
	}
	expect_pattern(s, 5, 0, size, SEED(8));	/* one call of 4x the bound */
	for (i = 0; i < 200; i++) {
		uint64_t id = 4 + rnd_next(&rng) % 2;
		uint64_t o = rnd_next(&rng) % (size - 4096);

		expect_pattern(s, id, o, 4096, SEED(id == 4 ? 7 : 8));
		CHECK(objstore_statfs(objstore_cache_local(s), &sf, NULL));
		if (sf.used > bound)
			fail_msg("step %d: local store holds %llu bytes, bound "
				 "%zu", i, (unsigned long long)sf.used, bound);
	}
	assert_true(stats(s).evictions > 0);
	assert_true(stats(s).used <= bound);
	CHECK(objstore_close(s));
}

static void eviction_takes_the_least_recently_used_piece(void **state)
{
	struct objstore *s;
	uint64_t before;
	int i;

	(void)state;
	s = open_uri("cache:local=[mem:],max=256K,piece=64K:faulty::mem:");
	fill_object(s, 1, 8 * PIECE, SEED(1));
	for (i = 0; i < 4; i++)			/* pieces 0..3 fill the cache */
		expect_pattern(s, 1, (uint64_t)i * PIECE, 100, SEED(1));
	expect_pattern(s, 1, 0, 100, SEED(1));	/* 0 is now the newest */
	before = remote_reads(s);
	expect_pattern(s, 1, 4 * PIECE, 100, SEED(1));	/* evicts piece 1 */
	assert_int_equal(stats(s).evictions, 1);
	expect_pattern(s, 1, 0, 100, SEED(1));
	expect_pattern(s, 1, 2 * PIECE, 100, SEED(1));
	expect_pattern(s, 1, 3 * PIECE, 100, SEED(1));
	if (remote_reads(s) - before != 1)
		fail_msg("pieces 0, 2 and 3 should have stayed; the remote saw "
			 "%llu reads", (unsigned long long)(remote_reads(s) -
							    before));
	expect_pattern(s, 1, 1 * PIECE, 100, SEED(1));	/* 1 was the one */
	assert_int_equal(remote_reads(s) - before, 2);
	CHECK(objstore_close(s));
}

/* --- local trouble ------------------------------------------------------- */

static void corrupt_local_piece_is_fetched_again_and_repaired(void **state)
{
	struct tmp *t = *state;
	struct warned w = { { 0 }, 0 };
	struct objstore *s;
	char uri[600], path[600];
	uint64_t before;
	int fd;

	dir_uri(t, uri, sizeof(uri), "4M");
	s = open_uri(uri);
	CHECK(objstore_cache_set_warn(s, on_warn, &w));
	fill_object(s, 0x2a, 4 * PIECE, SEED(21));
	expect_pattern(s, 0x2a, PIECE, PIECE, SEED(21));	/* piece 1 cached */
	snprintf(path, sizeof(path), "%s/local/objects/%016x/0", t->dir, 0x2a);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		fail_msg("no local data file %s: %s", path, strerror(errno));
	assert_int_equal(pwrite(fd, "rot", 3, PIECE + 5000), 3);
	close(fd);
	before = remote_reads(s);
	expect_pattern(s, 0x2a, PIECE, PIECE, SEED(21));
	assert_int_equal(remote_reads(s) - before, 1);
	assert_int_equal(stats(s).repairs, 1);
	assert_int_equal(w.n[OBJSTORE_CACHE_REPAIRED], 1);
	assert_int_equal(w.code, -EBADMSG);
	/* Repaired in place: the next read is a hit again. */
	expect_pattern(s, 0x2a, PIECE, PIECE, SEED(21));
	assert_int_equal(remote_reads(s) - before, 1);
	CHECK(objstore_close(s));
}

static void local_failure_falls_back_with_one_warning(void **state)
{
	struct warned w = { { 0 }, 0 };
	struct objstore *s, *local;
	uint64_t errors;
	int i;

	(void)state;
	s = open_uri("cache:local=[faulty::mem:],max=1M,piece=64K:mem:");
	local = objstore_cache_local(s);
	CHECK(objstore_cache_set_warn(s, on_warn, &w));
	fill_object(s, 1, 8 * PIECE, SEED(4));
	expect_pattern(s, 1, 0, PIECE, SEED(4));		/* piece 0 cached */
	CHECK(objstore_faulty_set_down(local, true));
	for (i = 0; i < 3; i++)				/* hit, then misses */
		expect_pattern(s, 1, 0, 8 * PIECE, SEED(4));
	errors = stats(s).local_errors;
	if (errors < 3)
		fail_msg("%llu local errors counted, expected one per failed "
			 "call", (unsigned long long)errors);
	assert_int_equal(w.n[OBJSTORE_CACHE_LOCAL_FAILED], 1);
	assert_int_equal(w.code, -EIO);
	/* Writes still reach the remote; nothing is read back stale. */
	write_pattern(s, 1, 1000, 5000, SEED(9));
	CHECK(objstore_faulty_set_down(local, false));
	expect_pattern(s, 1, 1000, 5000, SEED(9));
	expect_pattern(s, 1, 6000, PIECE, SEED(4));
	assert_int_equal(w.n[OBJSTORE_CACHE_LOCAL_RECOVERED], 1);
	CHECK(objstore_close(s));
}

static void full_local_store_serves_from_the_remote(void **state)
{
	struct objstore *s;

	(void)state;
	/* The local store can hold two pieces; the cache is told four. */
	s = open_uri("cache:local=[mem:?size=128K],max=256K,piece=64K,"
		     "margin=0:mem:");
	fill_object(s, 1, 8 * PIECE, SEED(4));
	expect_pattern(s, 1, 0, 8 * PIECE, SEED(4));
	expect_pattern(s, 1, 0, 8 * PIECE, SEED(4));
	assert_true(stats(s).used <= 128 * 1024);
	assert_true(stats(s).evictions > 0);
	CHECK(objstore_close(s));
}

/* --- write-through, coherence -------------------------------------------- */

static void synced_write_is_on_the_remote_alone(void **state)
{
	struct tmp *t = *state;
	struct objstore *s, *r;
	char uri[600], ruri[400];

	snprintf(uri, sizeof(uri), "cache:local=[dir:%s/local],max=1M,"
		 "piece=64K:dir:%s/remote", t->dir, t->dir);
	s = open_uri(uri);
	fill_object(s, 6, 3 * PIECE, SEED(31));
	expect_pattern(s, 6, 0, 3 * PIECE, SEED(31));		/* cached */
	write_pattern(s, 6, 1000, 70000, SEED(32));		/* through */
	CHECK(objstore_setattr(s, 6, "k", "v", 1, NULL));
	CHECK(objstore_sync(s, NULL));
	CHECK(objstore_close(s));
	snprintf(ruri, sizeof(ruri), "dir:%s/remote", t->dir);
	r = open_uri(ruri);
	expect_pattern(r, 6, 1000, 70000, SEED(32));
	expect_pattern(r, 6, 71000, 3 * PIECE - 71000, SEED(31));
	CHECK_ERR(objstore_getattr(r, 6, "k", NULL, 0, NULL), 1);
	CHECK(objstore_close(r));
}

/* A model of one object: what every read must return. */
struct model {
	unsigned char *data;
	uint64_t size;
	bool exists;
};

static void model_check(struct objstore *s, const struct model *m,
			uint64_t id, int step, uint64_t seed)
{
	unsigned char *buf = malloc(m->size + PIECE);
	ssize_t n;
	long d;

	assert_non_null(buf);
	n = objstore_read(s, id, 0, buf, m->size + PIECE, NULL);
	if (!m->exists) {
		if (n != -ENOENT)
			fail_msg("seed %llu step %d: read of a removed object "
				 "returned %zd", (unsigned long long)seed, step,
				 n);
	} else if (n != (ssize_t)m->size) {
		fail_msg("seed %llu step %d: read %zd bytes, size is %llu",
			 (unsigned long long)seed, step, n,
			 (unsigned long long)m->size);
	} else if ((d = first_diff(buf, m->data, m->size)) >= 0) {
		fail_msg("seed %llu step %d: byte %ld is 0x%02x, expected "
			 "0x%02x (stale or wrong)", (unsigned long long)seed,
			 step, d, buf[d], m->data[d]);
	}
	free(buf);
}

static void no_stale_reads_after_any_change(void **state)
{
	const uint64_t cap = 12 * PIECE;
	struct model m = { calloc(1, 12 * PIECE), 0, true };
	uint64_t seed = test_seed(), rng = seed;
	unsigned char *buf = malloc(cap);
	struct tmp *t = *state;
	struct objstore *s;
	char uri[600];
	int step, steps = getenv("MIXFS_LONG") ? 20000 : 600;

	assert_non_null(m.data);
	assert_non_null(buf);
	/* A bound of four pieces: changes meet cached, evicted and partial
	 * pieces alike. */
	snprintf(uri, sizeof(uri),
		 "cache:local=[mem:],max=256K,piece=64K:dir:%s/remote", t->dir);
	s = open_uri(uri);
	CHECK(objstore_create(s, 1, NULL));
	for (step = 0; step < steps; step++) {
		uint64_t r = rnd_next(&rng), off = rnd_next(&rng) % cap;
		uint64_t len = rnd_next(&rng) % (r % 4 == 0 ? 3 * PIECE : 9000);
		unsigned k = (unsigned)(r >> 8) % 16;

		if (off + len > cap)
			len = cap - off;
		if (!m.exists) {
			CHECK(objstore_create(s, 1, NULL));
			m.exists = true;
			m.size = 0;
		} else if (k < 6) {			/* read a range */
			ssize_t n = objstore_read(s, 1, off, buf, len, NULL);
			uint64_t want = off >= m.size ? 0 :
				(off + len > m.size ? m.size - off : len);
			long d;

			if (n != (ssize_t)want)
				fail_msg("seed %llu step %d: read at %llu of "
					 "%llu returned %zd, expected %llu",
					 (unsigned long long)seed, step,
					 (unsigned long long)off,
					 (unsigned long long)len, n,
					 (unsigned long long)want);
			d = first_diff(buf, m.data + off, want);
			if (d >= 0)
				fail_msg("seed %llu step %d: read at %llu: byte "
					 "%llu stale", (unsigned long long)seed,
					 step, (unsigned long long)off,
					 (unsigned long long)(off + d));
		} else if (k < 11) {			/* write */
			pattern_fill(buf, len, r, off);
			CHECK(objstore_write(s, 1, off, buf, len, NULL));
			memcpy(m.data + off, buf, len);
			/* A write of nothing does not extend the object. */
			if (len && off + len > m.size)
				m.size = off + len;
		} else if (k < 13) {			/* truncate */
			CHECK(objstore_truncate(s, 1, off, NULL));
			if (off < m.size)
				memset(m.data + off, 0, m.size - off);
			m.size = off;
		} else if (k < 15) {			/* punch */
			CHECK(objstore_punch(s, 1, off, len, NULL));
			if (off < m.size)
				memset(m.data + off, 0,
				       (off + len < m.size ? off + len : m.size) -
				       off);
		} else {				/* remove */
			CHECK(objstore_remove(s, 1, NULL));
			memset(m.data, 0, cap);
			m.exists = false;
		}
		if (step % 25 == 0 || k >= 11)
			model_check(s, &m, 1, step, seed);
	}
	assert_true(stats(s).hits > 0);
	assert_true(stats(s).evictions > 0);
	CHECK(objstore_close(s));
	free(buf);
	free(m.data);
}

static void atomic_txn_drops_the_pieces_it_changes(void **state)
{
	struct objstore_txn *t;
	struct objstore *s;

	(void)state;
	s = open_uri("cache:local=[mem:],max=1M,piece=64K:mem:");
	fill_object(s, 1, 2 * PIECE, SEED(1));
	fill_object(s, 2, 2 * PIECE, SEED(2));
	expect_pattern(s, 1, 0, 2 * PIECE, SEED(1));
	expect_pattern(s, 2, 0, 2 * PIECE, SEED(2));
	t = objstore_txn_new(s);
	assert_non_null(t);
	{
		unsigned char b[100];

		pattern_fill(b, sizeof(b), SEED(3), 500);
		CHECK(objstore_txn_write(t, 2, 500, b, sizeof(b)));
		CHECK(objstore_txn_truncate(t, 1, 1000));
	}
	CHECK(objstore_txn_commit(t, NULL));
	objstore_txn_free(t);
	expect_pattern(s, 2, 500, 100, SEED(3));
	expect_pattern(s, 2, 600, 2 * PIECE - 600, SEED(2));
	expect_pattern(s, 1, 0, 1000, SEED(1));
	assert_int_equal(size_of(s, 1), 1000);
	CHECK(objstore_close(s));
}

/* --- restart ------------------------------------------------------------ */

static void reopen_serves_cached_pieces_without_the_remote(void **state)
{
	struct tmp *t = *state;
	struct objstore *s;
	char uri[600];
	uint64_t before;

	dir_uri(t, uri, sizeof(uri), "4M");
	s = open_uri(uri);
	fill_object(s, 7, 5 * PIECE + 123, SEED(41));
	fill_object(s, 8, 3 * PIECE, SEED(42));
	expect_pattern(s, 7, 0, 5 * PIECE + 123, SEED(41));
	expect_pattern(s, 8, PIECE, 100, SEED(42));
	CHECK(objstore_close(s));

	s = open_uri(uri);
	assert_int_equal(stats(s).pieces, 7);
	before = remote_reads(s);
	expect_pattern(s, 7, 0, 5 * PIECE + 123, SEED(41));
	expect_pattern(s, 8, PIECE, 100, SEED(42));
	assert_int_equal(remote_reads(s) - before, 0);
	assert_int_equal(stats(s).hits, 7);
	CHECK(objstore_close(s));
}

static void remote_changed_while_closed_is_never_read_stale(void **state)
{
	struct tmp *t = *state;
	struct objstore *s, *r;
	char uri[600], ruri[400];

	dir_uri(t, uri, sizeof(uri), "4M");
	snprintf(ruri, sizeof(ruri), "dir:%s/remote", t->dir);
	s = open_uri(uri);
	fill_object(s, 7, 2 * PIECE, SEED(51));
	fill_object(s, 8, 2 * PIECE, SEED(52));
	fill_object(s, 9, 2 * PIECE, SEED(53));
	expect_pattern(s, 7, 0, 2 * PIECE, SEED(51));
	expect_pattern(s, 8, 0, 2 * PIECE, SEED(52));
	expect_pattern(s, 9, 0, 2 * PIECE, SEED(53));
	CHECK(objstore_close(s));

	/* Someone else: same size, new bytes; a remove and re-create. */
	r = open_uri(ruri);
	write_pattern(r, 7, 100, 200, SEED(61));
	CHECK(objstore_remove(r, 8, NULL));
	fill_object(r, 8, 2 * PIECE, SEED(62));
	CHECK(objstore_remove(r, 9, NULL));
	CHECK(objstore_close(r));

	s = open_uri(uri);
	expect_pattern(s, 7, 100, 200, SEED(61));
	expect_pattern(s, 7, 300, 2 * PIECE - 300, SEED(51));
	expect_pattern(s, 8, 0, 2 * PIECE, SEED(62));
	CHECK_ERR(objstore_read(s, 9, 0, &(char){ 0 }, 1, NULL), -ENOENT);
	CHECK(objstore_close(s));
}

static void cache_after_a_crash_is_discarded(void **state)
{
	struct tmp *t = *state;
	struct objstore *s, *r;
	char uri[600], ruri[400];
	pid_t pid;
	int status;

	dir_uri(t, uri, sizeof(uri), "4M");
	snprintf(ruri, sizeof(ruri), "dir:%s/remote", t->dir);
	s = open_uri(uri);
	fill_object(s, 7, 2 * PIECE, SEED(71));
	expect_pattern(s, 7, 0, 2 * PIECE, SEED(71));
	CHECK(objstore_close(s));		/* a clean close: recorded */

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Open (the records are taken in), fill more, and die. */
		struct objstore *c;
		unsigned char b[16];

		if (objstore_open(uri, 0, &c, NULL) ||
		    objstore_read(c, 7, PIECE, b, 16, NULL) != 16)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	r = open_uri(ruri);
	write_pattern(r, 7, 0, 2 * PIECE, SEED(72));	/* same size, new bytes */
	CHECK(objstore_close(r));
	s = open_uri(uri);
	assert_int_equal(stats(s).pieces, 0);
	expect_pattern(s, 7, 0, 2 * PIECE, SEED(72));
	CHECK(objstore_close(s));
}

/* --- the table ----------------------------------------------------------- */

#define T(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)
static const struct CMUnitTest cache_tests[] = {
	T(uri_nests_local_and_remote_uris),
	T(uri_errors_name_the_problem),
	T(second_read_is_a_hit_and_skips_the_remote),
	T(small_read_of_huge_object_fetches_one_piece),
	T(read_of_four_times_the_bound_stays_within_it),
	T(eviction_takes_the_least_recently_used_piece),
	T(corrupt_local_piece_is_fetched_again_and_repaired),
	T(local_failure_falls_back_with_one_warning),
	T(full_local_store_serves_from_the_remote),
	T(synced_write_is_on_the_remote_alone),
	T(no_stale_reads_after_any_change),
	T(atomic_txn_drops_the_pieces_it_changes),
	T(reopen_serves_cached_pieces_without_the_remote),
	T(remote_changed_while_closed_is_never_read_stale),
	T(cache_after_a_crash_is_discarded),
};

int main(void)
{
	const char *rados = getenv("MIXFS_RADOS_URI");
	const size_t nb = sizeof(cache_backends) / sizeof(cache_backends[0]) -
			  !rados;
	const size_t nt = sizeof(behaviours) / sizeof(behaviours[0]);
	const size_t nc = sizeof(cache_tests) / sizeof(cache_tests[0]);
	struct CMUnitTest *tests = calloc(nb * nt + nc, sizeof(*tests));
	char **names = calloc(nb * nt, sizeof(*names));
	size_t i, j, n = 0, k;
	int ret;

	assert_non_null(tests);
	test_seed();
	if (rados)
		snprintf(cache_rados_fmt, sizeof(cache_rados_fmt),
			 "cache:local=[dir:%%1$s-local],max=1M,piece=64K:"
			 "%s%cnamespace=cache-%%1$s%%2$s", rados,
			 strchr(rados, '?') ? '&' : '?');
	else
		printf("# cache: over rados: left out: no test cluster "
		       "(MIXFS_RADOS_URI unset)\n");
	for (i = 0; i < nb; i++) {
		for (j = 0; j < nt; j++) {
			if (behaviours[j].persistent_only &&
			    !cache_backends[i].persistent)
				continue;
			if (asprintf(&names[n], "%s/%s", cache_backends[i].name,
				     behaviours[j].name) < 0)
				return 1;
			tests[n] = (struct CMUnitTest){
				.name = names[n],
				.test_func = behaviours[j].fn,
				.setup_func = case_setup,
				.teardown_func = case_teardown,
				.initial_state = (void *)&cache_backends[i],
			};
			n++;
		}
	}
	k = n;
	for (i = 0; i < nc; i++)
		tests[n++] = cache_tests[i];
	ret = _cmocka_run_group_tests("objstore_cache", tests, n, NULL, NULL);
	for (i = 0; i < k; i++)
		free(names[i]);
	free(names);
	free(tests);
	return ret;
}
