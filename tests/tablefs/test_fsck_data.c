/*
 * test_fsck_data.c - fsck of a tablefs whose file data lives in a store of
 * its own (mkfs's default, dir:data beside the RocksDB files), and mkfs's
 * handling of that store.
 *
 * Each case makes a small filesystem in-process (an inline file, files of
 * several 4 KiB chunks, one in a subdirectory), damages the data store the
 * way a host can (an object's directory deleted, an object nobody owns
 * added, a data byte flipped, a data or meta file cut short, the whole data
 * directory gone, the 'D' record deleted or garbled), and proves that fsck
 * reports it, that --repair mends it so a second check is clean, and that
 * the files the damage did not touch read back intact. Files are filled
 * with a pattern of their name, so no seed is involved.
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
#include <unistd.h>

#include <rocksdb/c.h>

#include "fs/tablefs/tablefs.h"
#include "objstore/objstore_rocksdb.h"

#define CHECK(cond, ...) do { if (!(cond)) fail_msg(__VA_ARGS__); } while (0)

enum { F_BIG, F_MID, F_SMALL, F_DEEP, NFILES };

static const struct {
	const char *name;
	size_t len;
} files[NFILES] = {
	{ "big", 150000 }, { "mid", 70000 }, { "small", 100 },
	{ "deep", 20000 },
};

struct state {
	char dir[64];		/* this case's directory */
	char store[128];	/* the RocksDB directory */
	char uri[160];
	uint64_t ino[NFILES];
	uint64_t gone_ino;	/* a file made and removed: a free number */
	uint64_t dir_ino;
};

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

static void rmtree(const char *p)
{
	nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void fill(unsigned char *p, size_t len, const char *name)
{
	unsigned s = 0;

	for (const char *q = name; *q; q++)
		s = s * 31 + (unsigned char)*q;
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(s + i * 131 + (i >> 9));
}

static const struct tfs_cred cred = { 1000, 1000 };

static uint64_t make_file(struct tfs *fs, uint64_t parent, const char *name,
			  size_t len)
{
	unsigned char *buf = malloc(len ? len : 1);
	struct stat st;
	int ret = tfs_mknod(fs, parent, name, S_IFREG | 0644, 0, &cred, &st);

	CHECK(!ret, "making %s: %s", name, strerror(-ret));
	fill(buf, len, name);
	CHECK(tfs_write(fs, st.st_ino, 0, buf, len) == (ssize_t)len,
	      "writing %s", name);
	free(buf);
	return st.st_ino;
}

/* A fresh filesystem with data in dir:data, closed. */
static void make_fs(struct state *s)
{
	struct mixfs_err err = { 0 };
	struct tfs *fs;
	struct stat st;
	int ret;

	rmtree(s->dir);
	CHECK(!mkdir(s->dir, 0755), "mkdir %s", s->dir);
	ret = tfs_mkfs_data(s->uri, TFS_DATA_DIR, 0, false, &err);
	CHECK(!ret, "mkfs: %s", mixfs_err_msg(&err, ret));
	ret = tfs_open(s->uri, NULL, false, &fs, &err);
	CHECK(!ret, "open: %s", mixfs_err_msg(&err, ret));
	CHECK(!tfs_mkdir(fs, TFS_ROOT_INO, "d", 0755, &cred, &st), "mkdir d");
	s->dir_ino = st.st_ino;
	for (int i = 0; i < NFILES; i++)
		s->ino[i] = make_file(fs, i == F_DEEP ? s->dir_ino :
				      TFS_ROOT_INO, files[i].name,
				      files[i].len);
	s->gone_ino = make_file(fs, TFS_ROOT_INO, "gone", 30000);
	CHECK(!tfs_unlink(fs, TFS_ROOT_INO, "gone"), "unlinking gone");
	tfs_close(fs);
}

/* The path of object @ino's directory, or of @file inside it. */
static void obj_path(struct state *s, char *buf, size_t size, uint64_t ino,
		     const char *file)
{
	snprintf(buf, size, "%s/data/objects/%016llx%s%s", s->store,
		 (unsigned long long)ino, file ? "/" : "", file ? file : "");
}

/* fsck's output and result; @out is released by the caller. */
static int fsck(struct state *s, bool repair, struct fsd_buf *out,
		struct mixfs_err *err)
{
	memset(out, 0, sizeof(*out));
	mixfs_err_clear(err);
	return tfs_fsck(s->uri, repair, out, err);
}

static const char *text(const struct fsd_buf *b)
{
	return b->len ? b->data : "(nothing)";
}

/*
 * fsck finds the damage (a line holding @says), --repair mends all of it,
 * a second check is clean. Returns with the filesystem closed.
 */
static void found_and_repaired(struct state *s, const char *what,
			       const char *says)
{
	struct fsd_buf out;
	struct mixfs_err err;
	int ret = fsck(s, false, &out, &err);

	CHECK(ret > 0, "%s: fsck returned %d (%s): %s", what, ret,
	      mixfs_err_msg(&err, ret), text(&out));
	CHECK(out.len && strstr(out.data, says),
	      "%s: fsck did not say '%s': %s", what, says, text(&out));
	fsd_buf_release(&out);
	ret = fsck(s, true, &out, &err);
	CHECK(ret == 0 && out.len, "%s: repair left %d (%s): %s", what, ret,
	      mixfs_err_msg(&err, ret), text(&out));
	fsd_buf_release(&out);
	ret = fsck(s, false, &out, &err);
	CHECK(ret == 0 && out.len == 0, "%s: not clean after repair: %d: %s",
	      what, ret, text(&out));
	fsd_buf_release(&out);
}

/* File @i reads back as written, except [@zfrom, @zto) reads as zeros. */
static void reads_back(struct tfs *fs, struct state *s, int i,
		       uint64_t zfrom, uint64_t zto)
{
	size_t len = files[i].len;
	unsigned char *want = malloc(len + 1), *got = malloc(len + 1);
	ssize_t n;

	fill(want, len, files[i].name);
	if (zto > len)
		zto = len;
	if (zfrom < zto)
		memset(want + zfrom, 0, zto - zfrom);
	n = tfs_read(fs, s->ino[i], 0, got, len + 1);
	CHECK(n == (ssize_t)len, "%s: read %zd of %zu bytes", files[i].name,
	      n, len);
	for (size_t k = 0; k < len; k++)
		CHECK(got[k] == want[k], "%s: byte %zu is %u, want %u",
		      files[i].name, k, got[k], want[k]);
	free(want);
	free(got);
}

/* Every file but @hit (-1: none) reads back intact, a new file can be
 * written and read, and @hit reads with [@zfrom, @zto) as zeros. */
static void verify(struct state *s, int hit, uint64_t zfrom, uint64_t zto)
{
	struct mixfs_err err = { 0 };
	unsigned char buf[9000], back[9000];
	struct tfs *fs;
	struct stat st;
	int ret = tfs_open(s->uri, NULL, false, &fs, &err);

	CHECK(!ret, "open after repair: %s", mixfs_err_msg(&err, ret));
	for (int i = 0; i < NFILES; i++)
		reads_back(fs, s, i, i == hit ? zfrom : 0, i == hit ? zto : 0);
	fill(buf, sizeof(buf), "new");
	CHECK(!tfs_create(fs, TFS_ROOT_INO, "new", 0644, &cred, &st),
	      "creating a file after repair");
	CHECK(tfs_write(fs, st.st_ino, 0, buf, sizeof(buf)) == sizeof(buf),
	      "writing a file after repair");
	CHECK(tfs_read(fs, st.st_ino, 0, back, sizeof(back)) == sizeof(back) &&
	      !memcmp(buf, back, sizeof(buf)), "reading a new file back");
	tfs_close_file(fs, st.st_ino);
	tfs_close(fs);
}

static void flip_byte(const char *path, off_t off)
{
	unsigned char b;
	int fd = open(path, O_RDWR);

	CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	CHECK(pread(fd, &b, 1, off) == 1, "read %s", path);
	b ^= 0x5a;
	CHECK(pwrite(fd, &b, 1, off) == 1, "write %s", path);
	close(fd);
}

/* Delete (@val NULL) or set the 'D' record. */
static void set_data_record(struct state *s, const char *val)
{
	rocksdb_options_t *o = objstore_rocksdb_options();
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	char *e = NULL;
	rocksdb_t *db = rocksdb_open(o, s->store, &e);

	CHECK(!e, "opening the database: %s", e);
	if (val)
		rocksdb_put(db, wo, "D", 1, val, strlen(val), &e);
	else
		rocksdb_delete(db, wo, "D", 1, &e);
	CHECK(!e, "changing the D record: %s", e);
	rocksdb_close(db);
	rocksdb_writeoptions_destroy(wo);
	rocksdb_options_destroy(o);
}

/* --- cases -------------------------------------------------------------- */

static void clean_dir_store_checks_clean_and_repair_changes_nothing(void **st)
{
	struct state *s = *st;
	struct fsd_buf out;
	struct mixfs_err err;
	struct stat sb;
	char p[256];
	int ret;

	make_fs(s);
	snprintf(p, sizeof(p), "%s/data/mixfs-store", s->store);
	CHECK(stat(p, &sb) == 0, "mkfs made no dir: store beside the database");
	ret = fsck(s, false, &out, &err);
	CHECK(ret == 0 && out.len == 0, "clean store: %d (%s): %s", ret,
	      mixfs_err_msg(&err, ret), text(&out));
	ret = fsck(s, true, &out, &err);
	CHECK(ret == 0 && out.len == 0, "repair of a clean store: %d: %s",
	      ret, text(&out));
	verify(s, -1, 0, 0);
}

static void deleted_object_is_found_and_made_anew_as_zeros(void **st)
{
	struct state *s = *st;
	char p[256];

	make_fs(s);
	obj_path(s, p, sizeof(p), s->ino[F_MID], NULL);
	rmtree(p);
	found_and_repaired(s, "object deleted", "data object is missing");
	verify(s, F_MID, 0, UINT64_MAX);
}

static void object_of_no_file_is_found_and_repaired(void **st)
{
	struct state *s = *st;
	struct mixfs_err err = { 0 };
	struct objstore *d;
	char uri[200];
	unsigned char buf[10000];
	int ret;

	make_fs(s);
	snprintf(uri, sizeof(uri), "dir:%s/data", s->store);
	ret = objstore_open(uri, 0, &d, &err);
	CHECK(!ret, "opening the data store: %s", mixfs_err_msg(&err, ret));
	fill(buf, sizeof(buf), "stray");
	CHECK(!objstore_create(d, s->gone_ino, NULL) &&
	      !objstore_write(d, s->gone_ino, 0, buf, sizeof(buf), NULL),
	      "adding an object of no file");
	objstore_close(d);
	found_and_repaired(s, "object of no file",
			   "holds data but its inode record is missing");
	verify(s, -1, 0, 0);
}

static void object_past_the_inode_counter_is_a_leftover_the_mount_removes(void **st)
{
	struct state *s = *st;
	struct mixfs_err err = { 0 };
	struct fsd_buf out;
	struct objstore *d;
	struct tfs *fs;
	struct stat sb;
	char uri[200], p[256];
	uint64_t id = s->gone_ino + 1000;	/* never an inode yet */
	int ret;

	make_fs(s);
	snprintf(uri, sizeof(uri), "dir:%s/data", s->store);
	ret = objstore_open(uri, 0, &d, &err);
	CHECK(!ret, "opening the data store: %s", mixfs_err_msg(&err, ret));
	CHECK(!objstore_create(d, id, NULL) &&
	      !objstore_write(d, id, 0, "x", 1, NULL), "adding a leftover");
	objstore_close(d);
	ret = fsck(s, false, &out, &err);
	CHECK(ret == 0 && out.len == 0,
	      "a leftover past the inode counter is no problem: %d: %s", ret,
	      text(&out));
	fsd_buf_release(&out);
	ret = tfs_open(s->uri, NULL, false, &fs, &err);
	CHECK(!ret, "open: %s", mixfs_err_msg(&err, ret));
	tfs_close(fs);
	obj_path(s, p, sizeof(p), id, NULL);
	CHECK(stat(p, &sb) != 0, "the mount left the leftover object %s", p);
}

static void flipped_data_byte_is_a_checksum_failure_and_reads_as_zeros(void **st)
{
	struct state *s = *st;
	char p[256];

	make_fs(s);
	obj_path(s, p, sizeof(p), s->ino[F_BIG], "0");
	flip_byte(p, 50000);
	found_and_repaired(s, "data byte flipped", "checksum fails");
	verify(s, F_BIG, 49152, 53248);		/* its 4 KiB chunk */
}

static void cut_data_file_is_a_checksum_failure_past_the_cut(void **st)
{
	struct state *s = *st;
	char p[256];

	make_fs(s);
	obj_path(s, p, sizeof(p), s->ino[F_BIG], "0");
	CHECK(!truncate(p, 100000), "truncating %s", p);
	found_and_repaired(s, "data file cut", "checksum fails");
	verify(s, F_BIG, 98304, UINT64_MAX);	/* from the cut chunk on */
}

static void cut_meta_file_is_a_corrupt_object_made_anew(void **st)
{
	struct state *s = *st;
	char p[256];

	make_fs(s);
	obj_path(s, p, sizeof(p), s->ino[F_DEEP], "meta");
	CHECK(!truncate(p, 10), "truncating %s", p);
	found_and_repaired(s, "meta file cut", "record is corrupt");
	verify(s, F_DEEP, 0, UINT64_MAX);
}

static void missing_data_directory_is_made_anew(void **st)
{
	struct state *s = *st;
	char p[256];

	make_fs(s);
	snprintf(p, sizeof(p), "%s/data", s->store);
	rmtree(p);
	found_and_repaired(s, "data directory gone",
			   "file data store dir:data is missing");
	{
		struct mixfs_err err = { 0 };
		struct tfs *fs;
		int ret = tfs_open(s->uri, NULL, false, &fs, &err);

		CHECK(!ret, "open after repair: %s", mixfs_err_msg(&err, ret));
		reads_back(fs, s, F_SMALL, 0, 0);	/* inline: kept */
		reads_back(fs, s, F_BIG, 0, UINT64_MAX);
		tfs_close(fs);
	}
}

static void deleted_data_record_is_written_again_when_the_store_is_there(void **st)
{
	struct state *s = *st;

	make_fs(s);
	set_data_record(s, NULL);
	found_and_repaired(s, "D record deleted",
			   "file data store record is missing");
	verify(s, -1, 0, 0);
}

static void garbled_data_record_without_a_store_is_left_and_said(void **st)
{
	struct state *s = *st;
	struct fsd_buf out;
	struct mixfs_err err;
	char from[256], to[256];
	int ret;

	make_fs(s);
	set_data_record(s, "garbage");
	snprintf(from, sizeof(from), "%s/data", s->store);
	snprintf(to, sizeof(to), "%s/elsewhere", s->dir);
	CHECK(!rename(from, to), "moving the data store away");
	ret = fsck(s, true, &out, &err);
	CHECK(ret > 0 && out.len && strstr(out.data, "not a store URI") &&
	      strstr(out.data, "not repaired"),
	      "garbled record: repair should leave it, saying so: %d: %s",
	      ret, text(&out));
	fsd_buf_release(&out);
}

static void data_store_in_use_is_an_operational_error(void **st)
{
	struct state *s = *st;
	struct mixfs_err err = { 0 };
	struct fsd_buf out;
	struct objstore *d;
	char uri[200];
	int ret;

	make_fs(s);
	snprintf(uri, sizeof(uri), "dir:%s/data", s->store);
	ret = objstore_open(uri, 0, &d, &err);
	CHECK(!ret, "opening the data store: %s", mixfs_err_msg(&err, ret));
	ret = fsck(s, false, &out, &err);
	objstore_close(d);
	CHECK(ret == -EBUSY && strstr(mixfs_err_msg(&err, ret),
				      "file data store"),
	      "fsck of a data store in use: %d (%s), want -EBUSY naming the data store",
	      ret, mixfs_err_msg(&err, ret));
	fsd_buf_release(&out);
}

static void mkfs_refuses_an_unknown_data_scheme_before_touching_anything(void **st)
{
	struct state *s = *st;
	struct mixfs_err err = { 0 };
	struct stat sb;
	int ret;

	rmtree(s->dir);
	CHECK(!mkdir(s->dir, 0755), "mkdir %s", s->dir);
	ret = tfs_mkfs_data(s->uri, "bogus:x", 0, false, &err);
	CHECK(ret == -EINVAL && strstr(err.msg, "unknown store scheme"),
	      "bogus: scheme: %d (%s)", ret, err.msg);
	CHECK(stat(s->store, &sb) != 0, "mkfs made %s before refusing",
	      s->store);
	mixfs_err_clear(&err);
	ret = tfs_mkfs_data(s->uri, "mem:", 0, false, &err);
	CHECK(ret == -EINVAL && strstr(err.msg, "mem:"), "mem: %d (%s)", ret,
	      err.msg);
	CHECK(stat(s->store, &sb) != 0, "mkfs made %s before refusing mem:",
	      s->store);
}

static void mkfs_force_empties_the_old_data_store(void **st)
{
	struct state *s = *st;
	struct mixfs_err err = { 0 };
	struct objstore_statfs sf;
	struct objstore *d;
	char uri[200];
	int ret;

	make_fs(s);
	ret = tfs_mkfs_data(s->uri, "same", 0, false, &err);
	CHECK(ret == -EEXIST, "mkfs without --force over a filesystem: %d",
	      ret);
	mixfs_err_clear(&err);
	ret = tfs_mkfs_data(s->uri, "same", 0, true, &err);
	CHECK(!ret, "mkfs --force: %s", mixfs_err_msg(&err, ret));
	snprintf(uri, sizeof(uri), "dir:%s/data", s->store);
	ret = objstore_open(uri, 0, &d, &err);
	CHECK(!ret, "opening the old data store: %s", mixfs_err_msg(&err, ret));
	CHECK(!objstore_statfs(d, &sf, NULL) && sf.objects == 0,
	      "the old data store still holds %llu objects",
	      (unsigned long long)sf.objects);
	objstore_close(d);
	/* a store holding objects is not taken without --force: they could
	 * be another filesystem's data */
	snprintf(uri, sizeof(uri), "dir:%s/elsewhere", s->dir);
	ret = objstore_open(uri, OBJSTORE_OPEN_CREATE, &d, &err);
	CHECK(!ret, "making a store: %s", mixfs_err_msg(&err, ret));
	CHECK(!objstore_create(d, 7, NULL), "adding an object");
	objstore_close(d);
	rmtree(s->store);
	ret = tfs_mkfs_data(s->uri, uri, 0, false, &err);
	CHECK(ret == -EEXIST && strstr(err.msg, "already holds"),
	      "mkfs onto a data store with objects: %d (%s)", ret, err.msg);
}

static void size_bounds_data_and_metadata_together(void **st)
{
	struct state *s = *st;
	struct mixfs_err err = { 0 };
	const uint64_t size = 1u << 20;
	unsigned char buf[65536];
	struct statvfs sv;
	struct tfs *fs;
	struct stat sb;
	uint64_t off = 0;
	ssize_t n = 0;
	int ret;

	rmtree(s->dir);
	CHECK(!mkdir(s->dir, 0755), "mkdir %s", s->dir);
	ret = tfs_mkfs_data(s->uri, TFS_DATA_DIR, size, false, &err);
	CHECK(!ret, "mkfs: %s", mixfs_err_msg(&err, ret));
	ret = tfs_open(s->uri, NULL, false, &fs, &err);
	CHECK(!ret, "open: %s", mixfs_err_msg(&err, ret));
	CHECK(!tfs_statfs(fs, &sv), "statfs");
	CHECK((uint64_t)sv.f_blocks * sv.f_frsize == size,
	      "capacity %llu, want %llu",
	      (unsigned long long)sv.f_blocks * sv.f_frsize,
	      (unsigned long long)size);
	CHECK(!tfs_create(fs, TFS_ROOT_INO, "fill", 0644, &cred, &sb),
	      "create");
	memset(buf, 0xab, sizeof(buf));
	while (off < 4 * size &&
	       (n = tfs_write(fs, sb.st_ino, off, buf, sizeof(buf))) > 0)
		off += (uint64_t)n;
	CHECK(n == -ENOSPC, "filling: %zd after %llu bytes, want -ENOSPC", n,
	      (unsigned long long)off);
	CHECK(off <= size, "%llu bytes taken by a %llu-byte filesystem",
	      (unsigned long long)off, (unsigned long long)size);
	CHECK(!tfs_statfs(fs, &sv) && sv.f_bfree * sv.f_frsize < sizeof(buf),
	      "full, yet %llu bytes free",
	      (unsigned long long)sv.f_bfree * sv.f_frsize);
	tfs_close_file(fs, sb.st_ino);
	tfs_close(fs);
}

static int setup(void **st)
{
	struct state *s = calloc(1, sizeof(*s));
	char tmpl[64];
	struct stat sb;

	snprintf(tmpl, sizeof(tmpl), "%s/mixfs-fsckd-XXXXXX",
		 stat("/dev/shm", &sb) == 0 ? "/dev/shm" : "/tmp");
	if (!s || !mkdtemp(tmpl))
		return -1;
	snprintf(s->dir, sizeof(s->dir), "%s", tmpl);
	snprintf(s->store, sizeof(s->store), "%s/store", s->dir);
	snprintf(s->uri, sizeof(s->uri), "rocksdb:%s", s->store);
	*st = s;
	return 0;
}

static int teardown(void **st)
{
	struct state *s = *st;

	rmtree(s->dir);
	free(s);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clean_dir_store_checks_clean_and_repair_changes_nothing),
		cmocka_unit_test(deleted_object_is_found_and_made_anew_as_zeros),
		cmocka_unit_test(object_of_no_file_is_found_and_repaired),
		cmocka_unit_test(object_past_the_inode_counter_is_a_leftover_the_mount_removes),
		cmocka_unit_test(flipped_data_byte_is_a_checksum_failure_and_reads_as_zeros),
		cmocka_unit_test(cut_data_file_is_a_checksum_failure_past_the_cut),
		cmocka_unit_test(cut_meta_file_is_a_corrupt_object_made_anew),
		cmocka_unit_test(missing_data_directory_is_made_anew),
		cmocka_unit_test(deleted_data_record_is_written_again_when_the_store_is_there),
		cmocka_unit_test(garbled_data_record_without_a_store_is_left_and_said),
		cmocka_unit_test(data_store_in_use_is_an_operational_error),
		cmocka_unit_test(mkfs_refuses_an_unknown_data_scheme_before_touching_anything),
		cmocka_unit_test(mkfs_force_empties_the_old_data_store),
		cmocka_unit_test(size_bounds_data_and_metadata_together),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
