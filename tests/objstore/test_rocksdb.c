/*
 * test_rocksdb.c - what only the rocksdb: backend promises: checksums that
 * catch a flipped byte, a format header that refuses other formats, the
 * lock that refuses a second opener, clear errors (never a crash) on
 * garbage and damaged directories, and a key space shared with other users
 * of the database.
 *
 * It pokes at the database through objstore_rocksdb_handle() and RocksDB's
 * C API; the key layout it relies on is documented in rocksdb.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>
#include <xxhash.h>

#include "objstore/objstore.h"
#include "objstore/objstore_rocksdb.h"

struct tctx {
	char dir[256];		/* fresh, removed at teardown */
	char path[300];		/* the store inside it */
	char uri[320];
};

#define OK(call) do {							\
	long r_ = (long)(call);						\
	if (r_ < 0)							\
		fail_msg("%s failed: %s", #call, strerror((int)-r_));	\
} while (0)

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct tctx *t = calloc(1, sizeof(*t));
	const char *tmp = getenv("TMPDIR");

	snprintf(t->dir, sizeof(t->dir), "%s/mixfs-rdb-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(t->path, sizeof(t->path), "%s/store", t->dir);
	snprintf(t->uri, sizeof(t->uri), "rocksdb:%s", t->path);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tctx *t = *state;

	nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

static struct objstore *open_store(const char *uri, unsigned flags)
{
	struct mixfs_err err = { 0 };
	struct objstore *s;
	int ret = objstore_open(uri, flags, &s, &err);

	if (ret)
		fail_msg("opening %s: %s", uri, mixfs_err_msg(&err, ret));
	return s;
}

static void key_data(unsigned char *k, uint64_t id, uint64_t idx)
{
	int i;

	k[0] = 'o';
	k[1] = 'D';
	for (i = 0; i < 8; i++) {
		k[2 + i] = (unsigned char)(id >> (56 - 8 * i));
		k[10 + i] = (unsigned char)(idx >> (56 - 8 * i));
	}
}

/* Replace byte @at of the value of @key (a negative @at counts from the
 * end) with @val, through the store's own database handle. */
static void poke(struct objstore *s, const void *key, size_t klen, long at,
		 unsigned char val)
{
	rocksdb_t *db = objstore_rocksdb_handle(s);
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	char *e = NULL, *v;
	size_t vlen;

	assert_non_null(db);
	v = rocksdb_get(db, ro, key, klen, &vlen, &e);
	assert_null(e);
	assert_non_null(v);
	if (at < 0)
		at += (long)vlen;
	assert_true(at >= 0 && (size_t)at < vlen);
	v[at] = (char)val;
	rocksdb_put(db, wo, key, klen, v, vlen, &e);
	assert_null(e);
	rocksdb_free(v);
	rocksdb_readoptions_destroy(ro);
	rocksdb_writeoptions_destroy(wo);
}

static void flipped_byte_in_a_chunk_reads_ebadmsg(void **state)
{
	struct tctx *t = *state;
	struct mixfs_err err = { 0 };
	unsigned char k[18], buf[300 * 1024];
	struct objstore *s;

	memset(buf, 0x5a, sizeof(buf));
	s = open_store(t->uri, OBJSTORE_OPEN_CREATE);
	OK(objstore_create(s, 42, NULL));
	OK(objstore_write(s, 42, 0, buf, sizeof(buf), NULL));
	key_data(k, 42, 1);
	poke(s, k, sizeof(k), 100, 0x5b);
	OK(objstore_close(s));

	s = open_store(t->uri, 0);
	assert_int_equal(objstore_read(s, 42, 0, buf, sizeof(buf), &err),
			 -EBADMSG);
	if (!strstr(err.msg, "42") || !strstr(err.msg, "65536"))
		fail_msg("checksum error does not name object 42 and offset "
			 "65536: '%s'", err.msg);
	/* The chunk before it is fine, and a partial overwrite, which must
	 * read the bad chunk, refuses too. */
	assert_int_equal(objstore_read(s, 42, 0, buf, 65536, NULL), 65536);
	assert_int_equal(objstore_write(s, 42, 65536 + 10, buf, 10, NULL),
			 -EBADMSG);
	/* Overwriting the whole chunk repairs it. */
	OK(objstore_write(s, 42, 65536, buf, 65536, NULL));
	assert_int_equal(objstore_read(s, 42, 0, buf, sizeof(buf), NULL),
			 (ssize_t)sizeof(buf));
	OK(objstore_close(s));
}

static void checksum_covers_the_chunk_position(void **state)
{
	struct tctx *t = *state;
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	unsigned char k0[18], k1[18], buf[2 * 65536];
	struct objstore *s;
	char *e = NULL, *v;
	size_t vlen;

	memset(buf, 7, sizeof(buf));
	s = open_store(t->uri, OBJSTORE_OPEN_CREATE);
	OK(objstore_create(s, 1, NULL));
	OK(objstore_write(s, 1, 0, buf, sizeof(buf), NULL));
	/* Chunk 0 copied over chunk 1: same bytes, wrong place. */
	key_data(k0, 1, 0);
	key_data(k1, 1, 1);
	v = rocksdb_get(objstore_rocksdb_handle(s), ro, (char *)k0, 18, &vlen, &e);
	assert_non_null(v);
	rocksdb_put(objstore_rocksdb_handle(s), wo, (char *)k1, 18, v, vlen, &e);
	assert_null(e);
	rocksdb_free(v);
	assert_int_equal(objstore_read(s, 1, 65536, buf, 10, NULL), -EBADMSG);
	OK(objstore_close(s));
	rocksdb_readoptions_destroy(ro);
	rocksdb_writeoptions_destroy(wo);
}

/*
 * The format: a chunk's value is its bytes followed by the portable
 * XXH3-64 of them, seeded with id * 0x9E3779B97F4A7C15 ^ chunk index, in
 * host byte order. The store may compute it with whatever XXH3 code is
 * fastest on this CPU, but must write what every other build reads.
 */
static void chunk_checksum_is_the_portable_xxh3(void **state)
{
	struct tctx *t = *state;
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	static unsigned char buf[65536 + 3000];
	const uint64_t id = 0x1234567890ull;
	unsigned char k[18];
	struct objstore *s;
	uint64_t want, got;
	char *e = NULL, *v;
	size_t vlen, i, idx;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 131 + (i >> 9));
	s = open_store(t->uri, OBJSTORE_OPEN_CREATE);
	OK(objstore_create(s, id, NULL));
	OK(objstore_write(s, id, 0, buf, sizeof(buf), NULL));
	for (idx = 0; idx < 2; idx++) {
		size_t len = idx ? sizeof(buf) - 65536 : 65536;

		key_data(k, id, idx);
		v = rocksdb_get(objstore_rocksdb_handle(s), ro, (char *)k, 18,
				&vlen, &e);
		assert_null(e);
		assert_non_null(v);
		assert_int_equal(vlen, len + 8);
		assert_memory_equal(v, buf + idx * 65536, len);
		memcpy(&got, v + len, 8);
		want = XXH3_64bits_withSeed(buf + idx * 65536, len,
					    id * 0x9E3779B97F4A7C15ull ^ idx);
		if (got != want)
			fail_msg("chunk %zu of %zu bytes stores checksum %016llx, "
				 "the format says %016llx", idx, len,
				 (unsigned long long)got,
				 (unsigned long long)want);
		rocksdb_free(v);
	}
	OK(objstore_close(s));
	rocksdb_readoptions_destroy(ro);
}

/*
 * A transaction that writes a whole chunk and then changes part of it, or
 * removes and re-creates the object in between, must keep what each step
 * did (whole chunks are taken from the caller's buffer until a later step
 * changes them).
 */
static void txn_whole_chunk_then_partial_changes_keep_every_step(void **state)
{
	struct tctx *t = *state;
	static unsigned char a[3 * 65536], b[100], got[3 * 65536],
		want[3 * 65536];
	struct objstore_txn *x;
	struct objstore *s;

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	s = open_store(t->uri, OBJSTORE_OPEN_CREATE);
	x = objstore_txn_new(s);
	assert_non_null(x);
	OK(objstore_txn_create(x, 9));
	OK(objstore_txn_write(x, 9, 0, a, sizeof(a)));
	OK(objstore_txn_write(x, 9, 65536 + 10, b, sizeof(b)));
	OK(objstore_txn_truncate(x, 9, 2 * 65536 + 5));
	OK(objstore_txn_commit(x, NULL));
	objstore_txn_free(x);
	memcpy(want, a, sizeof(a));
	memcpy(want + 65536 + 10, b, sizeof(b));
	assert_int_equal(objstore_read(s, 9, 0, got, sizeof(got), NULL),
			 2 * 65536 + 5);
	assert_memory_equal(got, want, 2 * 65536 + 5);

	/* Whole chunks written, the object removed and made again, then
	 * a partial write: nothing of the first write may come back. */
	x = objstore_txn_new(s);
	assert_non_null(x);
	OK(objstore_txn_write(x, 9, 0, a, 2 * 65536));
	OK(objstore_txn_remove(x, 9));
	OK(objstore_txn_create(x, 9));
	OK(objstore_txn_write(x, 9, 65536 + 10, b, sizeof(b)));
	OK(objstore_txn_commit(x, NULL));
	objstore_txn_free(x);
	memset(want, 0, sizeof(want));
	memcpy(want + 65536 + 10, b, sizeof(b));
	assert_int_equal(objstore_read(s, 9, 0, got, sizeof(got), NULL),
			 65536 + 10 + sizeof(b));
	assert_memory_equal(got, want, 65536 + 10 + sizeof(b));
	OK(objstore_close(s));
}

/* A create that skips looking for ids never used must still look where
 * they may have been: the last id, and ids below the highest made. */
static void create_of_an_id_in_use_fails_eexist_after_reopen(void **state)
{
	struct tctx *t = *state;
	struct objstore *s;

	s = open_store(t->uri, OBJSTORE_OPEN_CREATE);
	OK(objstore_create(s, 1000, NULL));
	OK(objstore_create(s, UINT64_MAX, NULL));
	OK(objstore_close(s));
	s = open_store(t->uri, 0);
	assert_int_equal(objstore_create(s, UINT64_MAX, NULL), -EEXIST);
	assert_int_equal(objstore_create(s, 1000, NULL), -EEXIST);
	OK(objstore_create(s, UINT64_MAX - 1, NULL));
	OK(objstore_create(s, 999, NULL));
	OK(objstore_close(s));
}

static void newer_format_version_fails_eproto(void **state)
{
	struct tctx *t = *state;
	struct mixfs_err err = { 0 };
	struct objstore *s;

	s = open_store(t->uri, OBJSTORE_OPEN_CREATE);
	poke(s, "oH", 2, 16, OBJSTORE_FORMAT_VERSION + 1);  /* version field */
	OK(objstore_close(s));
	assert_int_equal(objstore_open(t->uri, 0, &s, &err), -EPROTO);
	assert_null(s);
	if (!strstr(err.msg, "version"))
		fail_msg("wrong-version message does not say so: '%s'", err.msg);
	/* Not even OBJSTORE_OPEN_CREATE overwrites it. */
	assert_int_equal(objstore_open(t->uri, OBJSTORE_OPEN_CREATE, &s, NULL),
			 -EPROTO);
}

static void other_format_magic_fails_eproto(void **state)
{
	struct tctx *t = *state;
	struct mixfs_err err = { 0 };
	struct objstore *s;

	s = open_store(t->uri, OBJSTORE_OPEN_CREATE);
	poke(s, "oH", 2, 0, 'X');
	OK(objstore_close(s));
	assert_int_equal(objstore_open(t->uri, 0, &s, &err), -EPROTO);
	assert_true(err.msg[0] != '\0');
}

static void second_open_fails_ebusy(void **state)
{
	struct tctx *t = *state;
	struct mixfs_err err = { 0 };
	struct objstore *s, *s2;

	s = open_store(t->uri, OBJSTORE_OPEN_CREATE);
	assert_int_equal(objstore_open(t->uri, 0, &s2, &err), -EBUSY);
	assert_null(s2);
	if (!strstr(err.msg, "in use"))
		fail_msg("second open message: '%s'", err.msg);
	OK(objstore_close(s));
	s2 = open_store(t->uri, 0);	/* free again once closed */
	OK(objstore_close(s2));
}

/*
 * A read-only open (fsck, a read-only mount) takes no lock: it works while
 * a writer has the store, sees the store as it was when it opened, and
 * changes nothing.
 */
static void readonly_open_beside_a_writer_sees_the_store_at_its_open(void **state)
{
	struct tctx *t = *state;
	struct mixfs_err err = { 0 };
	struct objstore *w, *w2, *r, *r2;
	char got[8];

	w = open_store(t->uri, OBJSTORE_OPEN_CREATE);
	OK(objstore_create(w, 1, NULL));
	OK(objstore_write(w, 1, 0, "one", 3, NULL));
	r = open_store(t->uri, OBJSTORE_OPEN_READONLY);
	r2 = open_store(t->uri, OBJSTORE_OPEN_READONLY);
	assert_int_equal(objstore_read(r, 1, 0, got, sizeof(got), NULL), 3);
	assert_memory_equal(got, "one", 3);
	/* The writer goes on; the readers keep what they opened. */
	OK(objstore_write(w, 1, 0, "two", 3, NULL));
	OK(objstore_create(w, 2, NULL));
	OK(objstore_sync(w, NULL));
	assert_int_equal(objstore_read(r, 1, 0, got, sizeof(got), NULL), 3);
	if (memcmp(got, "one", 3))
		fail_msg("a read-only store saw a write made after it opened: "
			 "'%.3s'", got);
	assert_int_equal(objstore_stat(r2, 2, &(struct objstore_stat){ 0 },
				       NULL), -ENOENT);
	assert_int_equal(objstore_write(r, 1, 0, "x", 1, &err), -EROFS);
	assert_int_equal(objstore_create(r, 3, NULL), -EROFS);
	OK(objstore_sync(r, NULL));
	/* A second writer is still refused. */
	assert_int_equal(objstore_open(t->uri, 0, &w2, NULL), -EBUSY);
	OK(objstore_close(r));
	OK(objstore_close(r2));
	r = open_store(t->uri, OBJSTORE_OPEN_READONLY);
	assert_int_equal(objstore_read(r, 1, 0, got, sizeof(got), NULL), 3);
	assert_memory_equal(got, "two", 3);
	OK(objstore_stat(r, 2, &(struct objstore_stat){ 0 }, NULL));
	OK(objstore_close(r));
	OK(objstore_close(w));
}

/* Names, sizes and mtimes of the files in @dir, one line each, sorted. */
static char *dir_listing(const char *dir)
{
	struct dirent **names;
	char *out = NULL, path[600];
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	int n, i;

	assert_non_null(f);
	n = scandir(dir, &names, NULL, alphasort);
	assert_true(n >= 0);
	for (i = 0; i < n; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (stat(path, &st) == 0)
			fprintf(f, "%s %lld %lld.%09ld\n", names[i]->d_name,
				(long long)st.st_size, (long long)st.st_mtim.tv_sec,
				st.st_mtim.tv_nsec);
		free(names[i]);
	}
	free(names);
	fclose(f);
	return out;
}

static void readonly_open_changes_no_file_and_creates_no_store(void **state)
{
	struct tctx *t = *state;
	struct objstore *s;
	char *before, *after, buf[4];

	assert_int_equal(objstore_open(t->uri, OBJSTORE_OPEN_READONLY |
				       OBJSTORE_OPEN_CREATE, &s, NULL), -ENOENT);
	assert_int_equal(access(t->path, F_OK), -1);
	s = open_store(t->uri, OBJSTORE_OPEN_CREATE);
	OK(objstore_create(s, 1, NULL));
	OK(objstore_write(s, 1, 0, "abc", 3, NULL));
	OK(objstore_close(s));
	before = dir_listing(t->path);
	s = open_store(t->uri, OBJSTORE_OPEN_READONLY);
	assert_int_equal(objstore_read(s, 1, 0, buf, sizeof(buf), NULL), 3);
	OK(objstore_close(s));
	after = dir_listing(t->path);
	if (strcmp(before, after))
		fail_msg("a read-only open changed the store's files:\n"
			 "before:\n%safter:\n%s", before, after);
	free(before);
	free(after);
}

/*
 * A read-only opener may find the writer's log cut anywhere; it must see
 * each change whole or not at all. The cut is made on a copy of a store
 * whose last change, a transaction making three objects, is only in the
 * write-ahead log.
 */
static void readonly_open_of_a_cut_log_sees_no_half_change(void **state)
{
	struct tctx *t = *state;
	struct objstore *s;
	struct objstore_txn *x;
	struct dirent *d;
	char cmd[1024], copy[320], uri[340], wal[700] = "";
	static char big[200000];
	struct stat st;
	DIR *dp;
	uint64_t id;
	int seen;

	s = open_store(t->uri, OBJSTORE_OPEN_CREATE);
	OK(objstore_create(s, 1, NULL));
	x = objstore_txn_new(s);
	assert_non_null(x);
	for (id = 10; id < 13; id++) {
		OK(objstore_txn_create(x, id));
		OK(objstore_txn_write(x, id, 0, big, sizeof(big)));
	}
	OK(objstore_txn_commit(x, NULL));
	objstore_txn_free(x);
	OK(objstore_close(s));
	snprintf(copy, sizeof(copy), "%s/copy", t->dir);
	snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", t->path, copy);
	assert_int_equal(system(cmd), 0);
	dp = opendir(copy);
	assert_non_null(dp);
	while ((d = readdir(dp)))
		if (strstr(d->d_name, ".log") && strlen(d->d_name) > 4 &&
		    !strcmp(d->d_name + strlen(d->d_name) - 4, ".log"))
			snprintf(wal, sizeof(wal), "%s/%s", copy, d->d_name);
	closedir(dp);
	if (!wal[0])
		fail_msg("no write-ahead log in %s", copy);
	assert_int_equal(stat(wal, &st), 0);
	assert_true(st.st_size > (off_t)sizeof(big));
	assert_int_equal(truncate(wal, st.st_size - 1000), 0);
	snprintf(uri, sizeof(uri), "rocksdb:%s", copy);
	s = open_store(uri, OBJSTORE_OPEN_READONLY);
	OK(objstore_stat(s, 1, &(struct objstore_stat){ 0 }, NULL));
	seen = 0;
	for (id = 10; id < 13; id++)
		seen += objstore_stat(s, id, &(struct objstore_stat){ 0 },
				      NULL) == 0;
	if (seen)
		fail_msg("%d of the 3 objects of a cut-off transaction are "
			 "there", seen);
	OK(objstore_close(s));
}

static void open_flags_create_excl_and_missing(void **state)
{
	struct tctx *t = *state;
	struct objstore *s;

	assert_int_equal(objstore_open(t->uri, 0, &s, NULL), -ENOENT);
	s = open_store(t->uri, OBJSTORE_OPEN_CREATE | OBJSTORE_OPEN_EXCL);
	OK(objstore_close(s));
	assert_int_equal(objstore_open(t->uri, OBJSTORE_OPEN_CREATE |
				       OBJSTORE_OPEN_EXCL, &s, NULL), -EEXIST);
	assert_int_equal(objstore_open("rocksdb:", 0, &s, NULL), -EINVAL);
	assert_int_equal(objstore_open("rocksdb:/x?bogus=1", 0, &s, NULL),
			 -EINVAL);
}

static void write_file(const char *dir, const char *name, const void *data,
		       size_t len)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void expect_clear_failure(const char *uri, unsigned flags)
{
	struct mixfs_err err = { 0 };
	struct objstore *s;
	int ret = objstore_open(uri, flags, &s, &err);

	if (ret != -EUCLEAN && ret != -EPROTO)
		fail_msg("opening %s returned %d (%s), expected -EUCLEAN or "
			 "-EPROTO", uri, ret, mixfs_err_msg(&err, ret));
	assert_null(s);
	assert_true(strlen(err.msg) > 10);
}

static void garbage_directory_fails_cleanly(void **state)
{
	struct tctx *t = *state;
	unsigned char junk[4096];
	size_t i;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 7 + 3);
	assert_int_equal(mkdir(t->path, 0755), 0);
	/* Files that are not a database at all. */
	write_file(t->path, "notes.txt", "hello\n", 6);
	expect_clear_failure(t->uri, 0);
	expect_clear_failure(t->uri, OBJSTORE_OPEN_CREATE);
	/* Files named like a database, holding junk. */
	write_file(t->path, "CURRENT", "MANIFEST-000001\n", 16);
	write_file(t->path, "MANIFEST-000001", junk, sizeof(junk));
	write_file(t->path, "000003.log", junk, sizeof(junk));
	expect_clear_failure(t->uri, OBJSTORE_OPEN_CREATE);
	write_file(t->path, "CURRENT", junk, 100);
	expect_clear_failure(t->uri, 0);
	write_file(t->path, "CURRENT", "", 0);
	expect_clear_failure(t->uri, 0);
}

static void truncated_database_fails_cleanly(void **state)
{
	struct tctx *t = *state;
	struct objstore *s;
	char p[512], manifest[64] = "";
	FILE *f;

	s = open_store(t->uri, OBJSTORE_OPEN_CREATE);
	OK(objstore_create(s, 1, NULL));
	OK(objstore_write(s, 1, 0, "data", 4, NULL));
	OK(objstore_close(s));
	snprintf(p, sizeof(p), "%s/CURRENT", t->path);
	f = fopen(p, "r");
	assert_non_null(f);
	assert_non_null(fgets(manifest, sizeof(manifest), f));
	fclose(f);
	manifest[strcspn(manifest, "\n")] = '\0';
	snprintf(p, sizeof(p), "%s/%s", t->path, manifest);
	assert_int_equal(truncate(p, 20), 0);
	expect_clear_failure(t->uri, 0);
	assert_int_equal(truncate(p, 0), 0);
	expect_clear_failure(t->uri, OBJSTORE_OPEN_CREATE);
	assert_int_equal(unlink(p), 0);
	expect_clear_failure(t->uri, 0);
}

static void rocksdb_without_header_is_not_a_store(void **state)
{
	struct tctx *t = *state;
	rocksdb_options_t *o = objstore_rocksdb_options();
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	char *e = NULL;
	rocksdb_t *db;

	rocksdb_options_set_create_if_missing(o, 1);
	db = rocksdb_open(o, t->path, &e);
	assert_null(e);
	rocksdb_put(db, wo, "k", 1, "v", 1, &e);
	assert_null(e);
	rocksdb_close(db);
	rocksdb_options_destroy(o);
	rocksdb_writeoptions_destroy(wo);
	expect_clear_failure(t->uri, OBJSTORE_OPEN_CREATE);
}

static void corrupt_object_record_reads_euclean(void **state)
{
	struct tctx *t = *state;
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	unsigned char k[10] = { 'o', 'M', 0, 0, 0, 0, 0, 0, 0, 9 };
	struct objstore_stat st;
	struct objstore *s;
	char *e = NULL;

	s = open_store(t->uri, OBJSTORE_OPEN_CREATE);
	OK(objstore_create(s, 9, NULL));
	rocksdb_put(objstore_rocksdb_handle(s), wo, (char *)k, sizeof(k), "xy",
		    2, &e);
	assert_null(e);
	assert_int_equal(objstore_stat(s, 9, &st, NULL), -EUCLEAN);
	OK(objstore_close(s));
	rocksdb_writeoptions_destroy(wo);
}

/* Keys of the database's other users, on both sides of 'o'. */
static const char *const foreign[] = { "A", "n\xff\xff", "nzzz", "p", "p\0x",
				       "S-super", "z" };
static const size_t foreign_len[] = { 1, 3, 4, 1, 3, 7, 1 };
#define NFOREIGN (sizeof(foreign) / sizeof(foreign[0]))

static void foreign_keys_are_left_alone(void **state)
{
	struct tctx *t = *state;
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	struct objstore_statfs sf;
	struct objstore_txn *txn;
	uint64_t cursor = 0, ids[16];
	struct objstore *s;
	rocksdb_iterator_t *it;
	unsigned char buf[100000];
	char *e = NULL;
	size_t n, i;

	memset(buf, 3, sizeof(buf));
	s = open_store(t->uri, OBJSTORE_OPEN_CREATE);
	for (i = 0; i < NFOREIGN; i++) {
		rocksdb_put(objstore_rocksdb_handle(s), wo, foreign[i],
			    foreign_len[i], "mine", 4, &e);
		assert_null(e);
	}
	OK(objstore_create(s, 1, NULL));
	OK(objstore_create(s, UINT64_MAX, NULL));
	OK(objstore_write(s, 1, 0, buf, sizeof(buf), NULL));
	OK(objstore_write(s, UINT64_MAX, 0, buf, sizeof(buf), NULL));
	OK(objstore_setattr(s, UINT64_MAX, "a", "b", 1, NULL));
	OK(objstore_truncate(s, 1, 10, NULL));
	OK(objstore_punch(s, UINT64_MAX, 0, 1u << 20, NULL));
	txn = objstore_txn_new(s);
	OK(objstore_txn_create(txn, 2));
	OK(objstore_txn_write(txn, 2, 0, buf, 10));
	OK(objstore_txn_remove(txn, 1));
	OK(objstore_txn_commit(txn, NULL));
	objstore_txn_free(txn);
	OK(objstore_remove(s, UINT64_MAX, NULL));
	OK(objstore_list(s, &cursor, ids, 16, &n, NULL));
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], 2);
	OK(objstore_statfs(s, &sf, NULL));
	assert_int_equal(sf.objects, 1);
	assert_int_equal(sf.used, 10);
	OK(objstore_close(s));

	/* Reopen (which checks the header) and look at every key. */
	s = open_store(t->uri, 0);
	for (i = 0; i < NFOREIGN; i++) {
		size_t vlen;
		char *v = rocksdb_get(objstore_rocksdb_handle(s), ro, foreign[i],
				      foreign_len[i], &vlen, &e);

		if (!v || vlen != 4 || memcmp(v, "mine", 4))
			fail_msg("foreign key %zu was changed or deleted", i);
		rocksdb_free(v);
	}
	it = rocksdb_create_iterator(objstore_rocksdb_handle(s), ro);
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t klen, j;
		const char *k = rocksdb_iter_key(it, &klen);
		bool known = k[0] == OBJSTORE_ROCKSDB_PREFIX;

		for (j = 0; j < NFOREIGN && !known; j++)
			known = klen == foreign_len[j] &&
				!memcmp(k, foreign[j], klen);
		if (!known)
			fail_msg("the store wrote a key outside its prefix "
				 "(first byte 0x%02x)", (unsigned char)k[0]);
	}
	rocksdb_iter_destroy(it);
	OK(objstore_close(s));
	rocksdb_readoptions_destroy(ro);
	rocksdb_writeoptions_destroy(wo);
}

static void chunk_size_is_chosen_at_creation(void **state)
{
	struct tctx *t = *state;
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	unsigned char lo[18], hi[18], buf[100 * 1024];
	struct objstore *s;
	rocksdb_iterator_t *it;
	char uri[400];
	int keys = 0;

	memset(buf, 1, sizeof(buf));
	snprintf(uri, sizeof(uri), "%s?chunk=16K", t->uri);
	s = open_store(uri, OBJSTORE_OPEN_CREATE);
	OK(objstore_create(s, 5, NULL));
	OK(objstore_write(s, 5, 0, buf, sizeof(buf), NULL));
	OK(objstore_close(s));
	/* Reopened without chunk=, the store keeps its 16 KiB chunks. */
	s = open_store(t->uri, 0);
	OK(objstore_write(s, 5, sizeof(buf), buf, 1, NULL));
	key_data(lo, 5, 0);
	key_data(hi, 6, 0);
	rocksdb_readoptions_set_iterate_upper_bound(ro, (char *)hi, 18);
	it = rocksdb_create_iterator(objstore_rocksdb_handle(s), ro);
	for (rocksdb_iter_seek(it, (char *)lo, 18); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it))
		keys++;
	rocksdb_iter_destroy(it);
	assert_int_equal(keys, 7);	/* 100 KiB + 1 byte in 16 KiB chunks */
	assert_int_equal(objstore_read(s, 5, 0, buf, sizeof(buf), NULL),
			 (ssize_t)sizeof(buf));
	OK(objstore_close(s));
	rocksdb_readoptions_destroy(ro);
	assert_int_equal(objstore_open("rocksdb:/tmp/x?chunk=3000", 0, &s, NULL),
			 -EINVAL);
}

static void capacity_is_recorded_until_changed(void **state)
{
	struct tctx *t = *state;
	struct objstore_statfs sf;
	struct objstore *s;
	char uri[400];

	snprintf(uri, sizeof(uri), "%s?size=5M", t->uri);
	s = open_store(uri, OBJSTORE_OPEN_CREATE);
	OK(objstore_close(s));
	s = open_store(t->uri, 0);
	OK(objstore_statfs(s, &sf, NULL));
	assert_int_equal(sf.capacity, 5u << 20);
	OK(objstore_close(s));
	snprintf(uri, sizeof(uri), "%s?size=7M", t->uri);
	s = open_store(uri, OBJSTORE_OPEN_CREATE);
	OK(objstore_close(s));
	s = open_store(t->uri, 0);
	OK(objstore_statfs(s, &sf, NULL));
	assert_int_equal(sf.capacity, 7u << 20);
	OK(objstore_sync(s, NULL));
	OK(objstore_close(s));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(flipped_byte_in_a_chunk_reads_ebadmsg),
		T(checksum_covers_the_chunk_position),
		T(chunk_checksum_is_the_portable_xxh3),
		T(txn_whole_chunk_then_partial_changes_keep_every_step),
		T(create_of_an_id_in_use_fails_eexist_after_reopen),
		T(newer_format_version_fails_eproto),
		T(other_format_magic_fails_eproto),
		T(second_open_fails_ebusy),
		T(readonly_open_beside_a_writer_sees_the_store_at_its_open),
		T(readonly_open_changes_no_file_and_creates_no_store),
		T(readonly_open_of_a_cut_log_sees_no_half_change),
		T(open_flags_create_excl_and_missing),
		T(garbage_directory_fails_cleanly),
		T(truncated_database_fails_cleanly),
		T(rocksdb_without_header_is_not_a_store),
		T(corrupt_object_record_reads_euclean),
		T(foreign_keys_are_left_alone),
		T(chunk_size_is_chosen_at_creation),
		T(capacity_is_recorded_until_changed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
