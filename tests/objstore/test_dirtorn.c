/*
 * test_dirtorn.c - what a dir: store reads after a power cut in the middle
 * of a sync: the files of an object put on disk in the combinations a cut
 * can leave (the checksums of the chunks changed since the last sync
 * written, each data chunk old or new), written here by hand from copies
 * of the files taken before and after the changes. Every chunk must read
 * as its bytes at the last sync or as its new bytes, never -EBADMSG; a
 * flipped bit, bytes from another chunk, or (once a sync has completed)
 * the bytes of before that sync still read -EBADMSG.
 *
 * What it does not cover: a real power cut (test_dirpower does that on an
 * ext4 image), and new bytes on disk under checksums older than them,
 * which the store does not promise to read (docs/objstore.md, "Power
 * loss").
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "objstore/objstore.h"

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

#define CH 4096

struct fix {
	char top[256];		/* mkdtemp directory */
	char path[300];		/* the store inside it */
	char uri[320];
	struct objstore *s;
};

/* A copy of one host file. */
struct blob {
	unsigned char *p;
	size_t len;
};

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

static void close_store(struct fix *f)
{
	CHECK(objstore_close(f->s));
	f->s = NULL;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(f);
	snprintf(f->top, sizeof(f->top), "%s/mixfs-dirtorn-XXXXXX",
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

	if (f->s)
		objstore_close(f->s);
	nftw(f->top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Path of file @name of object @id. */
static const char *obj_file(struct fix *f, uint64_t id, const char *name)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s/objects/%016" PRIx64 "/%s", f->path,
		 id, name);
	return buf;
}

static struct blob slurp(const char *path)
{
	struct blob b = { NULL, 0 };
	struct stat st;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st))
		fail_msg("reading %s: %s", path, strerror(errno));
	b.len = (size_t)st.st_size;
	b.p = malloc(b.len + 1);
	assert_non_null(b.p);
	assert_int_equal(pread(fd, b.p, b.len, 0), (ssize_t)b.len);
	close(fd);
	return b;
}

static void spit(const char *path, const void *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		fail_msg("writing %s: %s", path, strerror(errno));
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	close(fd);
}

static void fill(unsigned char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 9));
}

/* Chunk @i of @b, zeros past its end. */
static void chunk_of(const struct blob *b, size_t i, unsigned char *out)
{
	size_t at = i * CH, n = at < b->len ? b->len - at : 0;

	if (n > CH)
		n = CH;
	memset(out, 0, CH);
	if (n)
		memcpy(out, b->p + at, n);
}

/*
 * Write data file 0 of object @id with chunk i (of @nchunks) taken from
 * @newer when bit i of @mask is set, else from @older; its length is the
 * newer file's when the last chunk is new, else the older one's.
 */
static void mix_data(struct fix *f, uint64_t id, const struct blob *older,
		     const struct blob *newer, size_t nchunks, unsigned mask)
{
	size_t len = (mask >> (nchunks - 1)) & 1 ? newer->len : older->len;
	unsigned char *p = calloc(1, nchunks * CH);

	assert_non_null(p);
	for (size_t i = 0; i < nchunks; i++)
		chunk_of((mask >> i) & 1 ? newer : older, i, p + i * CH);
	spit(obj_file(f, id, "0"), p, len);
	free(p);
}

/* Read chunk @i of object @id (as much of it as the object's size
 * covers) and insist it is @a or @b. */
static void expect_either(struct fix *f, uint64_t id, size_t i,
			  const unsigned char *a, const unsigned char *b,
			  const char *what)
{
	unsigned char got[CH];
	struct mixfs_err err = { 0 };
	ssize_t n = objstore_read(f->s, id, i * CH, got, CH, &err);

	if (n < 0)
		fail_msg("%s: chunk %zu reads %s: %s", what, i,
			 strerror((int)-n), err.msg);
	if (n == 0)
		fail_msg("%s: chunk %zu is past the object's size", what, i);
	if (memcmp(got, a, (size_t)n) && memcmp(got, b, (size_t)n))
		fail_msg("%s: chunk %zu reads as neither its synced nor its "
			 "new bytes", what, i);
}

static void blob_free(struct blob *b)
{
	free(b->p);
	b->p = NULL;
}

/* --- a sync cut after the checksums -------------------------------------- */

/*
 * Four chunks synced; then chunk 0 rewritten whole twice, chunk 1 in
 * part, chunk 2 left alone, a fifth chunk appended. The checksum and
 * meta files as they are now (sync writes them first), each data chunk
 * old or new: all 32 mixes read every chunk as old or new.
 */
static void changed_chunks_read_as_synced_or_new_under_new_checksums(
	void **state)
{
	struct fix *f = *state;
	unsigned char a[4 * CH], b[CH], c[CH], old[CH], now[CH];
	struct blob d0, d1, s1, m1;
	char what[64];
	unsigned mask;

	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	fill(c, sizeof(c), 3);
	CHECK(objstore_create(f->s, 7, NULL));
	CHECK(objstore_write(f->s, 7, 0, a, sizeof(a), NULL));
	CHECK(objstore_sync(f->s, NULL));
	d0 = slurp(obj_file(f, 7, "0"));
	CHECK(objstore_write(f->s, 7, 0, b, CH, NULL));
	CHECK(objstore_write(f->s, 7, 0, c, CH, NULL));
	CHECK(objstore_write(f->s, 7, CH + 100, b, 200, NULL));
	CHECK(objstore_write(f->s, 7, 4 * CH, c, 3000, NULL));
	d1 = slurp(obj_file(f, 7, "0"));
	s1 = slurp(obj_file(f, 7, "0.sum"));
	m1 = slurp(obj_file(f, 7, "meta"));
	close_store(f);
	for (mask = 0; mask < 32; mask++) {
		mix_data(f, 7, &d0, &d1, 5, mask);
		spit(obj_file(f, 7, "0.sum"), s1.p, s1.len);
		spit(obj_file(f, 7, "meta"), m1.p, m1.len);
		open_store(f, "");
		snprintf(what, sizeof(what), "data chunks new: mask %#x", mask);
		for (size_t i = 0; i < 5; i++) {
			chunk_of(&d0, i, old);
			chunk_of(&d1, i, now);
			expect_either(f, 7, i, old, now, what);
		}
		close_store(f);
	}
	open_store(f, "");
	blob_free(&d0);
	blob_free(&d1);
	blob_free(&s1);
	blob_free(&m1);
}

/* In that torn state, real damage is still caught: a flipped bit, and a
 * chunk's bytes where another chunk's belong. */
static void flipped_bit_and_misplaced_chunk_still_read_ebadmsg(void **state)
{
	struct fix *f = *state;
	unsigned char a[3 * CH], b[3 * CH], buf[CH];
	struct blob d0, d1, s1;

	fill(a, sizeof(a), 4);
	fill(b, sizeof(b), 5);
	CHECK(objstore_create(f->s, 8, NULL));
	CHECK(objstore_write(f->s, 8, 0, a, sizeof(a), NULL));
	CHECK(objstore_sync(f->s, NULL));
	d0 = slurp(obj_file(f, 8, "0"));
	CHECK(objstore_write(f->s, 8, 0, b, sizeof(b), NULL));
	d1 = slurp(obj_file(f, 8, "0"));
	s1 = slurp(obj_file(f, 8, "0.sum"));
	close_store(f);
	d0.p[100] ^= 0x10;			/* chunk 0: synced, one bit off */
	memcpy(d0.p + CH, d1.p + 2 * CH, CH);	/* chunk 1: chunk 2's bytes */
	spit(obj_file(f, 8, "0"), d0.p, d0.len);
	spit(obj_file(f, 8, "0.sum"), s1.p, s1.len);
	open_store(f, "");
	CHECK_ERR(objstore_read(f->s, 8, 0, buf, CH, NULL), -EBADMSG);
	CHECK_ERR(objstore_read(f->s, 8, CH, buf, CH, NULL), -EBADMSG);
	CHECK_ERR(objstore_read(f->s, 8, 2 * CH, buf, CH, NULL), CH);
	assert_memory_equal(buf, a + 2 * CH, CH);
	/* A partial write into a damaged chunk is refused. */
	CHECK_ERR(objstore_write(f->s, 8, 10, "x", 1, NULL), -EBADMSG);
	blob_free(&d0);
	blob_free(&d1);
	blob_free(&s1);
}

/* --- after a completed sync -------------------------------------------- */

/* A completed sync retires the checksum of before it: the old bytes of a
 * chunk (a write the disk lost) read -EBADMSG again. */
static void completed_sync_retires_the_previous_checksum(void **state)
{
	struct fix *f = *state;
	unsigned char a[CH], b[CH], buf[CH];
	struct blob d0;

	fill(a, sizeof(a), 6);
	fill(b, sizeof(b), 7);
	CHECK(objstore_create(f->s, 9, NULL));
	CHECK(objstore_write(f->s, 9, 0, a, CH, NULL));
	CHECK(objstore_sync(f->s, NULL));
	d0 = slurp(obj_file(f, 9, "0"));
	CHECK(objstore_write(f->s, 9, 0, b, CH, NULL));
	CHECK(objstore_sync(f->s, NULL));
	close_store(f);
	spit(obj_file(f, 9, "0"), d0.p, d0.len);
	open_store(f, "");
	CHECK_ERR(objstore_read(f->s, 9, 0, buf, CH, NULL), -EBADMSG);
	blob_free(&d0);
}

/*
 * The store's open-object cache may let an object go between two changes
 * of a chunk (cache=0: at every call); the second change must still keep
 * the checksum of the last sync, not of the first change.
 */
static void two_changes_keep_the_synced_checksum_across_cache_eviction(
	void **state)
{
	struct fix *f = *state;
	unsigned char a[2 * CH], b[2 * CH], c[CH], old[CH], now[CH];
	struct blob d0, d1, s1;
	unsigned mask;

	close_store(f);
	open_store(f, "?cache=0");
	fill(a, sizeof(a), 8);
	fill(b, sizeof(b), 9);
	fill(c, sizeof(c), 10);
	CHECK(objstore_create(f->s, 10, NULL));
	CHECK(objstore_create(f->s, 11, NULL));
	CHECK(objstore_write(f->s, 10, 0, a, sizeof(a), NULL));
	CHECK(objstore_sync(f->s, NULL));
	d0 = slurp(obj_file(f, 10, "0"));
	CHECK(objstore_write(f->s, 10, 0, b, sizeof(b), NULL));
	CHECK(objstore_write(f->s, 11, 0, c, CH, NULL));
	CHECK(objstore_write(f->s, 10, 0, c, CH, NULL));
	CHECK(objstore_write(f->s, 10, CH + 5, c, 10, NULL));
	d1 = slurp(obj_file(f, 10, "0"));
	s1 = slurp(obj_file(f, 10, "0.sum"));
	close_store(f);
	for (mask = 0; mask < 4; mask++) {
		mix_data(f, 10, &d0, &d1, 2, mask);
		spit(obj_file(f, 10, "0.sum"), s1.p, s1.len);
		open_store(f, "?cache=0");
		for (size_t i = 0; i < 2; i++) {
			chunk_of(&d0, i, old);
			chunk_of(&d1, i, now);
			expect_either(f, 10, i, old, now, "cache=0");
		}
		close_store(f);
	}
	open_store(f, "");
	blob_free(&d0);
	blob_free(&d1);
	blob_free(&s1);
}

/*
 * After a cut that left a chunk's bytes synced under a pair whose new
 * value never reached its data, the next change keeps the value the
 * bytes match as the synced one: cut again before the next sync, the
 * chunk still reads.
 */
static void change_after_a_torn_cut_keeps_what_the_disk_holds(void **state)
{
	struct fix *f = *state;
	unsigned char a[CH], b[CH], c[CH], now[CH];
	struct blob d0, s1, d2;

	fill(a, sizeof(a), 11);
	fill(b, sizeof(b), 12);
	fill(c, sizeof(c), 13);
	CHECK(objstore_create(f->s, 12, NULL));
	CHECK(objstore_write(f->s, 12, 0, a, CH, NULL));
	CHECK(objstore_sync(f->s, NULL));
	d0 = slurp(obj_file(f, 12, "0"));
	CHECK(objstore_write(f->s, 12, 0, b, CH, NULL));
	s1 = slurp(obj_file(f, 12, "0.sum"));
	close_store(f);
	spit(obj_file(f, 12, "0"), d0.p, d0.len);	/* the first cut */
	open_store(f, "");
	CHECK(objstore_write(f->s, 12, 0, c, CH, NULL));
	d2 = slurp(obj_file(f, 12, "0"));
	blob_free(&s1);
	s1 = slurp(obj_file(f, 12, "0.sum"));
	close_store(f);
	spit(obj_file(f, 12, "0"), d0.p, d0.len);	/* the second cut */
	spit(obj_file(f, 12, "0.sum"), s1.p, s1.len);
	open_store(f, "");
	chunk_of(&d2, 0, now);
	expect_either(f, 12, 0, a, now, "after two cuts");
	blob_free(&d0);
	blob_free(&d2);
	blob_free(&s1);
}

/*
 * The sync after such a cut settles the chunks changed since, and only
 * them: a neighbour in the same block of the .sum file whose pair still
 * differs, its bytes those of the older value, keeps reading.
 */
static void sync_settles_only_the_changed_chunks(void **state)
{
	struct fix *f = *state;
	unsigned char a[2 * CH], b[2 * CH], c[CH], buf[CH];
	struct blob d0;

	fill(a, sizeof(a), 19);
	fill(b, sizeof(b), 20);
	fill(c, sizeof(c), 21);
	CHECK(objstore_create(f->s, 17, NULL));
	CHECK(objstore_write(f->s, 17, 0, a, sizeof(a), NULL));
	CHECK(objstore_sync(f->s, NULL));
	d0 = slurp(obj_file(f, 17, "0"));
	CHECK(objstore_write(f->s, 17, 0, b, sizeof(b), NULL));
	close_store(f);
	spit(obj_file(f, 17, "0"), d0.p, d0.len);	/* the cut */
	open_store(f, "");
	CHECK(objstore_write(f->s, 17, CH, c, CH, NULL));
	CHECK(objstore_sync(f->s, NULL));
	close_store(f);
	open_store(f, "");
	CHECK_ERR(objstore_read(f->s, 17, 0, buf, CH, NULL), CH);
	assert_memory_equal(buf, a, CH);
	CHECK_ERR(objstore_read(f->s, 17, CH, buf, CH, NULL), CH);
	assert_memory_equal(buf, c, CH);
	blob_free(&d0);
}

/* --- cutting and punching ------------------------------------------------ */

/*
 * A truncate and a punch since the last sync; the checksum file as now
 * and the meta file as at the sync (the old size), the data file cut and
 * punched or not: every chunk reads as its synced bytes or as zeros (or,
 * for the chunk cut in two, its new bytes).
 */
static void cut_and_punched_chunks_read_as_synced_or_new(void **state)
{
	struct fix *f = *state;
	unsigned char a[6 * CH], zeros[CH] = { 0 }, old[CH], now[CH];
	struct blob d0, d1, s1, m0;
	unsigned mask;

	fill(a, sizeof(a), 14);
	CHECK(objstore_create(f->s, 13, NULL));
	CHECK(objstore_write(f->s, 13, 0, a, sizeof(a), NULL));
	CHECK(objstore_sync(f->s, NULL));
	d0 = slurp(obj_file(f, 13, "0"));
	m0 = slurp(obj_file(f, 13, "meta"));
	CHECK(objstore_punch(f->s, 13, CH, CH, NULL));
	CHECK(objstore_truncate(f->s, 13, 3 * CH + 1000, NULL));
	d1 = slurp(obj_file(f, 13, "0"));
	s1 = slurp(obj_file(f, 13, "0.sum"));
	close_store(f);
	for (mask = 0; mask < 64; mask++) {
		mix_data(f, 13, &d0, &d1, 6, mask);
		spit(obj_file(f, 13, "0.sum"), s1.p, s1.len);
		spit(obj_file(f, 13, "meta"), m0.p, m0.len);
		open_store(f, "");
		for (size_t i = 0; i < 6; i++) {
			chunk_of(&d0, i, old);
			chunk_of(&d1, i, now);
			expect_either(f, 13, i, old, i == 3 ? now : zeros,
				      "cut and punched");
		}
		close_store(f);
	}
	open_store(f, "");
	blob_free(&d0);
	blob_free(&d1);
	blob_free(&s1);
	blob_free(&m0);
}

/*
 * A truncate that cuts the checksum file too (300 chunks cut to 11: the
 * .sum file keeps its first 4 KiB block). The journal commits the
 * checksum file's cut before the data file's: each state it can leave,
 * with the meta file as at the sync, reads every chunk as its synced
 * bytes or zeros.
 */
static void truncate_past_a_checksum_block_reads_as_synced_or_zeros(
	void **state)
{
	struct fix *f = *state;
	size_t len = 300 * CH, size = 10 * CH + 100;
	unsigned char *a = malloc(len), zeros[CH] = { 0 }, now[CH];
	struct blob d0, d1, s1, m0;
	const char *how[] = { "checksums cut", "both cut" };

	assert_non_null(a);
	fill(a, len, 22);
	CHECK(objstore_create(f->s, 18, NULL));
	CHECK(objstore_write(f->s, 18, 0, a, len, NULL));
	CHECK(objstore_sync(f->s, NULL));
	d0 = slurp(obj_file(f, 18, "0"));
	m0 = slurp(obj_file(f, 18, "meta"));
	CHECK(objstore_truncate(f->s, 18, size, NULL));
	d1 = slurp(obj_file(f, 18, "0"));
	s1 = slurp(obj_file(f, 18, "0.sum"));
	assert_int_equal(s1.len, 4096);
	close_store(f);
	for (int k = 0; k < 2; k++) {
		const struct blob *d = k ? &d1 : &d0;

		spit(obj_file(f, 18, "0"), d->p, d->len);
		spit(obj_file(f, 18, "0.sum"), s1.p, s1.len);
		spit(obj_file(f, 18, "meta"), m0.p, m0.len);
		open_store(f, "");
		for (size_t i = 0; i < 300; i++) {
			chunk_of(&d1, i, now);
			expect_either(f, 18, i, a + i * CH, i == 10 ? now : zeros,
				      how[k]);
		}
		close_store(f);
	}
	open_store(f, "");
	free(a);
	blob_free(&d0);
	blob_free(&d1);
	blob_free(&s1);
	blob_free(&m0);
}

/* --- appends and creates the host wrote back in part --------------------- */

/*
 * Appended data on disk, its checksums and the object's new size not
 * (the host wrote the data file back first): the bytes past what the
 * checksums and the size cover are not the object's. It reads as it was
 * synced, and a write past its end finds zeros, not those bytes.
 */
static void appended_data_without_its_checksums_is_left_out(void **state)
{
	struct fix *f = *state;
	unsigned char a[2 * CH], b[2 * CH], buf[CH];
	struct blob s0, m0;
	struct objstore_stat st;

	fill(a, sizeof(a), 16);
	fill(b, sizeof(b), 17);
	CHECK(objstore_create(f->s, 15, NULL));
	CHECK(objstore_write(f->s, 15, 0, a, sizeof(a), NULL));
	CHECK(objstore_sync(f->s, NULL));
	s0 = slurp(obj_file(f, 15, "0.sum"));
	m0 = slurp(obj_file(f, 15, "meta"));
	CHECK(objstore_write(f->s, 15, sizeof(a), b, sizeof(b), NULL));
	close_store(f);
	spit(obj_file(f, 15, "0.sum"), s0.p, s0.len);
	spit(obj_file(f, 15, "meta"), m0.p, m0.len);
	open_store(f, "");
	CHECK(objstore_stat(f->s, 15, &st, NULL));
	assert_int_equal(st.size, sizeof(a));
	CHECK_ERR(objstore_read(f->s, 15, CH, buf, CH, NULL), CH);
	assert_memory_equal(buf, a + CH, CH);
	CHECK(objstore_write(f->s, 15, 3 * CH + 10, "x", 1, NULL));
	CHECK_ERR(objstore_read(f->s, 15, 2 * CH, buf, CH, NULL), CH);
	for (size_t i = 0; i < CH; i++)
		if (buf[i])
			fail_msg("byte %zu past the synced end reads %#x, "
				 "left over from the lost append", 2 * CH + i,
				 buf[i]);
	blob_free(&s0);
	blob_free(&m0);
}

/*
 * An object created and written but never synced, whose directory the
 * host's journal committed and whose meta file it did not: empty. A
 * read-only open sees an empty object; a read-write open clears it.
 */
static void created_object_with_empty_meta_reads_as_empty(void **state)
{
	struct fix *f = *state;
	unsigned char a[2 * CH], buf[CH];
	struct objstore_stat st;
	struct mixfs_err err = { 0 };
	int ret;

	fill(a, sizeof(a), 18);
	CHECK(objstore_create(f->s, 16, NULL));
	CHECK(objstore_write(f->s, 16, 0, a, sizeof(a), NULL));
	close_store(f);
	spit(obj_file(f, 16, "meta"), "", 0);
	snprintf(f->uri, sizeof(f->uri), "dir:%s", f->path);
	ret = objstore_open(f->uri, OBJSTORE_OPEN_READONLY, &f->s, &err);
	if (ret)
		fail_msg("opening %s read-only: %s", f->uri,
			 mixfs_err_msg(&err, ret));
	CHECK(objstore_stat(f->s, 16, &st, NULL));
	assert_int_equal(st.size, 0);
	assert_int_equal(st.allocated, 0);
	CHECK_ERR(objstore_read(f->s, 16, 0, buf, CH, NULL), 0);
	close_store(f);
	open_store(f, "");
	assert_int_equal(access(obj_file(f, 16, "0"), F_OK), -1);
	CHECK(objstore_write(f->s, 16, 100, "y", 1, NULL));
	CHECK_ERR(objstore_read(f->s, 16, 0, buf, 101, NULL), 101);
	assert_int_equal(buf[0], 0);
	assert_int_equal(buf[100], 'y');
}

/* --- the format --------------------------------------------------------- */

static void set_header_version(struct fix *f, const char *from, const char *to)
{
	char hdr[512];
	struct blob b;
	char *at;

	snprintf(hdr, sizeof(hdr), "%s/mixfs-store", f->path);
	b = slurp(hdr);
	b.p[b.len] = '\0';
	at = strstr((char *)b.p, from);
	assert_non_null(at);
	memcpy(at, to, strlen(to));
	spit(hdr, b.p, b.len);
	blob_free(&b);
}

/* A store made before checksum pairs (format 1) goes on working in its
 * own layout, one checksum per chunk. */
static void version_1_store_keeps_its_layout_and_works(void **state)
{
	struct fix *f = *state;
	unsigned char a[3 * CH], buf[3 * CH];
	struct objstore_info info;
	struct stat st;

	objstore_info(f->s, &info);
	assert_int_equal(info.format_version, 2);
	close_store(f);
	set_header_version(f, "version 2", "version 1");
	open_store(f, "");
	objstore_info(f->s, &info);
	assert_int_equal(info.format_version, 1);
	fill(a, sizeof(a), 15);
	CHECK(objstore_create(f->s, 14, NULL));
	CHECK(objstore_write(f->s, 14, 0, a, sizeof(a), NULL));
	CHECK(objstore_write(f->s, 14, 100, a, 50, NULL));
	memcpy(a + 100, a, 50);
	CHECK(objstore_sync(f->s, NULL));
	CHECK(objstore_truncate(f->s, 14, 2 * CH + 10, NULL));
	CHECK(objstore_punch(f->s, 14, 0, CH, NULL));
	memset(a, 0, CH);
	assert_int_equal(stat(obj_file(f, 14, "0.sum"), &st), 0);
	assert_int_equal(st.st_size, 3 * 8);
	close_store(f);
	open_store(f, "");
	CHECK_ERR(objstore_read(f->s, 14, 0, buf, sizeof(buf), NULL),
		  2 * CH + 10);
	assert_memory_equal(buf, a, 2 * CH + 10);
	/* Its header is kept as it is: still version 1. */
	objstore_info(f->s, &info);
	assert_int_equal(info.format_version, 1);
	close_store(f);
	spit(obj_file(f, 14, "0"), "junk", 4);
	open_store(f, "");
	CHECK_ERR(objstore_read(f->s, 14, 0, buf, 4, NULL), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(changed_chunks_read_as_synced_or_new_under_new_checksums),
		T(flipped_bit_and_misplaced_chunk_still_read_ebadmsg),
		T(completed_sync_retires_the_previous_checksum),
		T(two_changes_keep_the_synced_checksum_across_cache_eviction),
		T(change_after_a_torn_cut_keeps_what_the_disk_holds),
		T(sync_settles_only_the_changed_chunks),
		T(cut_and_punched_chunks_read_as_synced_or_new),
		T(truncate_past_a_checksum_block_reads_as_synced_or_zeros),
		T(appended_data_without_its_checksums_is_left_out),
		T(created_object_with_empty_meta_reads_as_empty),
		T(version_1_store_keeps_its_layout_and_works),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
