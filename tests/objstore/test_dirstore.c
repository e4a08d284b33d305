/*
 * test_dirstore.c - what only the dir: backend promises: its files on disk
 * are where the manual at the top of dir.c says, damage to them is
 * reported (-EBADMSG for data, -EUCLEAN for metadata, -EPROTO for a
 * foreign or newer header) without crashing, the store is used by one
 * handle at a time, and everything survives a reopen.
 *
 * The shared behaviour (reads, writes, attributes, listing) is proven by
 * test_conformance; these tests poke at the files behind the store's back.
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
#include <sys/wait.h>
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

struct fix {
	char top[256];		/* mkdtemp directory */
	char path[300];		/* the store inside it */
	char uri[320];
	struct objstore *s;
};

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static int open_store(struct fix *f, const char *query, unsigned flags,
		      struct mixfs_err *err)
{
	snprintf(f->uri, sizeof(f->uri), "dir:%s%s", f->path, query);
	return objstore_open(f->uri, flags, &f->s, err);
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	struct mixfs_err err = { 0 };
	int ret;

	assert_non_null(f);
	snprintf(f->top, sizeof(f->top), "%s/mixfs-dirstore-XXXXXX",
		 tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->top));
	snprintf(f->path, sizeof(f->path), "%s/store", f->top);
	ret = open_store(f, "", OBJSTORE_OPEN_CREATE, &err);
	if (ret)
		fail_msg("creating %s: %s", f->uri, mixfs_err_msg(&err, ret));
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

static void reopen(struct fix *f, const char *query)
{
	struct mixfs_err err = { 0 };
	int ret;

	CHECK(objstore_close(f->s));
	f->s = NULL;
	ret = open_store(f, query, 0, &err);
	if (ret)
		fail_msg("reopening %s: %s", f->uri, mixfs_err_msg(&err, ret));
}

/* Path of file @name of object @id. */
static const char *obj_file(struct fix *f, uint64_t id, const char *name)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s/objects/%016llx/%s", f->path,
		 (unsigned long long)id, name);
	return buf;
}

static void file_write_at(const char *path, off_t off, const void *buf,
			  size_t len)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		fail_msg("opening %s: %s", path, strerror(errno));
	assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static void file_flip_byte(const char *path, off_t off)
{
	unsigned char c;
	int fd = open(path, O_RDWR);

	if (fd < 0)
		fail_msg("opening %s: %s", path, strerror(errno));
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 0x40;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void fill_object(struct fix *f, uint64_t id, size_t len)
{
	unsigned char *buf = malloc(len);
	size_t i;

	assert_non_null(buf);
	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 7 + id);
	CHECK(objstore_create(f->s, id, NULL));
	CHECK(objstore_write(f->s, id, 0, buf, len, NULL));
	free(buf);
}

/* --- layout --------------------------------------------------------------- */

static void files_are_where_the_manual_says(void **state)
{
	struct fix *f = *state;
	char path[512];
	struct stat st;

	fill_object(f, 0x2a, 10000);
	CHECK(objstore_setattr(f->s, 0x2a, "user.x", "1", 1, NULL));
	snprintf(path, sizeof(path), "%s/mixfs-store", f->path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(stat(obj_file(f, 0x2a, "meta"), &st), 0);
	assert_int_equal(stat(obj_file(f, 0x2a, "attr"), &st), 0);
	assert_int_equal(stat(obj_file(f, 0x2a, "0"), &st), 0);
	assert_int_equal(st.st_size, 10000);
	assert_int_equal(stat(obj_file(f, 0x2a, "0.sum"), &st), 0);
	/* Three 4 KiB chunks, a pair of checksums each. */
	assert_int_equal(st.st_size, 3 * 16);
}

static void far_writes_stay_sparse_on_the_host(void **state)
{
	struct fix *f = *state;
	unsigned char buf[4096] = { 9 }, back[4096];
	uint64_t off = (UINT64_C(1) << 40) - 2048;	/* across segments */
	struct stat st;
	long blocks = 0;

	CHECK(objstore_create(f->s, 3, NULL));
	CHECK(objstore_write(f->s, 3, off, buf, sizeof(buf), NULL));
	CHECK_ERR(objstore_read(f->s, 3, off, back, sizeof(back), NULL), 4096);
	assert_memory_equal(buf, back, sizeof(buf));
	CHECK_ERR(objstore_read(f->s, 3, 1 << 20, back, sizeof(back), NULL),
		  4096);
	assert_int_equal(back[0] | back[4095], 0);
	assert_int_equal(stat(obj_file(f, 3, "0"), &st), 0);
	blocks += st.st_blocks;
	assert_int_equal(stat(obj_file(f, 3, "1"), &st), 0);
	blocks += st.st_blocks;
	if (blocks * 512 > (1 << 20))
		fail_msg("4 KiB written far out took %ld host bytes", blocks * 512);
}

/* --- damage --------------------------------------------------------------- */

static void flipped_data_byte_reads_ebadmsg_naming_object_and_offset(void **state)
{
	struct fix *f = *state;
	struct mixfs_err err = { 0 };
	unsigned char buf[16384];

	fill_object(f, 0x51, 16384);
	file_flip_byte(obj_file(f, 0x51, "0"), 9000);	/* chunk at 8192 */
	CHECK_ERR(objstore_read(f->s, 0x51, 0, buf, sizeof(buf), &err),
		  -EBADMSG);
	assert_non_null(strstr(err.msg, "0000000000000051"));
	assert_non_null(strstr(err.msg, "8192"));
	/* The chunks around it still read. */
	CHECK_ERR(objstore_read(f->s, 0x51, 0, buf, 8192, NULL), 8192);
	CHECK_ERR(objstore_read(f->s, 0x51, 12288, buf, 4096, NULL), 4096);
	/* A partial write into the bad chunk is refused, not papered over;
	 * a whole-chunk write replaces it. */
	CHECK_ERR(objstore_write(f->s, 0x51, 9000, "x", 1, NULL), -EBADMSG);
	memset(buf, 1, 4096);
	CHECK(objstore_write(f->s, 0x51, 8192, buf, 4096, NULL));
	CHECK_ERR(objstore_read(f->s, 0x51, 0, buf, sizeof(buf), NULL), 16384);
}

static void data_in_a_hole_reads_ebadmsg(void **state)
{
	struct fix *f = *state;
	unsigned char buf[4096];

	CHECK(objstore_create(f->s, 0x60, NULL));
	CHECK(objstore_write(f->s, 0x60, 8192, "tail", 4, NULL));
	file_write_at(obj_file(f, 0x60, "0"), 100, "junk", 4);
	CHECK_ERR(objstore_read(f->s, 0x60, 0, buf, sizeof(buf), NULL),
		  -EBADMSG);
}

static void truncated_checksum_file_is_reported_not_crashed_on(void **state)
{
	struct fix *f = *state;
	struct mixfs_err err = { 0 };
	unsigned char buf[12288];

	fill_object(f, 0x70, 12288);
	assert_int_equal(truncate(obj_file(f, 0x70, "0.sum"), 8), 0);
	CHECK_ERR(objstore_read(f->s, 0x70, 0, buf, sizeof(buf), &err),
		  -EUCLEAN);
	assert_non_null(strstr(err.msg, "0000000000000070"));
	mixfs_err_clear(&err);
	assert_int_equal(truncate(obj_file(f, 0x70, "0.sum"), 13), 0);
	CHECK_ERR(objstore_read(f->s, 0x70, 0, buf, sizeof(buf), &err),
		  -EUCLEAN);
	/* The rest of the store carries on, and the object can go. */
	fill_object(f, 0x71, 100);
	CHECK(objstore_remove(f->s, 0x70, NULL));
}

static void truncated_meta_and_attr_files_read_euclean(void **state)
{
	struct fix *f = *state;
	struct objstore_stat st;
	struct mixfs_err err = { 0 };
	char buf[64];

	fill_object(f, 0x80, 100);
	CHECK(objstore_setattr(f->s, 0x80, "name", "value", 5, NULL));
	assert_int_equal(truncate(obj_file(f, 0x80, "attr"), 20), 0);
	CHECK_ERR(objstore_getattr(f->s, 0x80, "name", buf, sizeof(buf), &err),
		  -EUCLEAN);
	assert_non_null(strstr(err.msg, "attr"));
	CHECK_ERR(objstore_listattr(f->s, 0x80, buf, sizeof(buf), NULL),
		  -EUCLEAN);
	assert_int_equal(truncate(obj_file(f, 0x80, "meta"), 5), 0);
	mixfs_err_clear(&err);
	CHECK_ERR(objstore_stat(f->s, 0x80, &st, &err), -EUCLEAN);
	assert_non_null(strstr(err.msg, "meta"));
	/* A store with a damaged object still opens. */
	reopen(f, "");
	CHECK_ERR(objstore_read(f->s, 0x80, 0, buf, sizeof(buf), NULL), -EUCLEAN);
	CHECK(objstore_remove(f->s, 0x80, NULL));
}

static void newer_or_foreign_header_fails_eproto(void **state)
{
	struct fix *f = *state;
	struct mixfs_err err = { 0 };
	char hdr[512], text[512];
	FILE *fp;
	size_t n;

	snprintf(hdr, sizeof(hdr), "%s/mixfs-store", f->path);
	CHECK(objstore_close(f->s));
	f->s = NULL;
	fp = fopen(hdr, "r");
	assert_non_null(fp);
	n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
	*strstr(text, "version 2") = '\0';
	strcat(text, "version 99\nuuid 0\nchunk-size 4096\ncapacity 0\n");
	write_text(hdr, text);
	CHECK_ERR(open_store(f, "", 0, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "99"));
	write_text(hdr, "mixfs-objstore rocksdb\nversion 1\n");
	mixfs_err_clear(&err);
	CHECK_ERR(open_store(f, "", OBJSTORE_OPEN_CREATE, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "not a dir: object store"));
}

static void other_directories_are_refused_clearly(void **state)
{
	struct fix *f = *state;
	struct mixfs_err err = { 0 };
	char path[512];

	CHECK(objstore_close(f->s));
	f->s = NULL;
	/* A directory with someone else's files is never taken over. */
	snprintf(f->path, sizeof(f->path), "%s/notastore", f->top);
	assert_int_equal(mkdir(f->path, 0755), 0);
	snprintf(path, sizeof(path), "%s/precious.txt", f->path);
	write_text(path, "do not touch");
	CHECK_ERR(open_store(f, "", OBJSTORE_OPEN_CREATE, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "other files"));
	/* An empty directory is no store, but may become one. */
	snprintf(f->path, sizeof(f->path), "%s/empty", f->top);
	assert_int_equal(mkdir(f->path, 0755), 0);
	mixfs_err_clear(&err);
	CHECK_ERR(open_store(f, "", 0, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "create"));
	CHECK(open_store(f, "", OBJSTORE_OPEN_CREATE, NULL));
	CHECK(objstore_close(f->s));
	f->s = NULL;
	CHECK_ERR(open_store(f, "", OBJSTORE_OPEN_CREATE | OBJSTORE_OPEN_EXCL,
			     NULL), -EEXIST);
	/* A plain file is not a directory. */
	snprintf(f->path, sizeof(f->path), "%s/notastore/precious.txt", f->top);
	CHECK_ERR(open_store(f, "", 0, NULL), -ENOTDIR);
}

/* --- exclusive use -------------------------------------------------------- */

static void second_open_fails_ebusy_in_this_and_another_process(void **state)
{
	struct fix *f = *state;
	struct mixfs_err err = { 0 };
	struct objstore *again;
	int status;
	pid_t pid;

	CHECK_ERR(objstore_open(f->uri, 0, &again, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "already open"));
	CHECK_ERR(objstore_open(f->uri, OBJSTORE_OPEN_READONLY, &again, NULL),
		  -EBUSY);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(objstore_open(f->uri, 0, &again, NULL) == -EBUSY ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("a second process opened the store");
	/* Closing hands the store over. */
	CHECK(objstore_close(f->s));
	f->s = NULL;
	CHECK(objstore_open(f->uri, 0, &f->s, NULL));
}

/* --- persistence and capacity --------------------------------------------- */

static void reopen_keeps_objects_attributes_and_fresh_ids(void **state)
{
	struct fix *f = *state;
	struct objstore_info info1, info2;
	struct objstore_stat st;
	uint64_t a, b, cursor = 0, ids[8];
	unsigned char buf[5000];
	size_t n;

	objstore_info(f->s, &info1);
	fill_object(f, 0x99, 5000);
	CHECK(objstore_setattr(f->s, 0x99, "k", "val", 3, NULL));
	CHECK(objstore_truncate(f->s, 0x99, UINT64_C(1) << 50, NULL));
	CHECK(objstore_create_fresh(f->s, &a, NULL));
	CHECK(objstore_remove(f->s, a, NULL));
	CHECK(objstore_sync(f->s, NULL));
	reopen(f, "");
	objstore_info(f->s, &info2);
	assert_memory_equal(info1.uuid, info2.uuid, 16);
	assert_int_equal(info2.format_version, 2);
	assert_true(info2.caps & OBJSTORE_CAP_DURABLE_SYNC);
	assert_false(info2.caps & OBJSTORE_CAP_ATOMIC_TXN);
	CHECK(objstore_stat(f->s, 0x99, &st, NULL));
	assert_int_equal(st.size, UINT64_C(1) << 50);
	assert_int_equal(st.allocated, 2 * 4096);
	CHECK_ERR(objstore_read(f->s, 0x99, 0, buf, 5000, NULL), 5000);
	assert_int_equal(buf[4999], (unsigned char)(4999 * 7 + 0x99));
	CHECK_ERR(objstore_getattr(f->s, 0x99, "k", buf, sizeof(buf), NULL), 3);
	assert_memory_equal(buf, "val", 3);
	CHECK(objstore_create_fresh(f->s, &b, NULL));
	if (b <= a || b <= 0x99)
		fail_msg("fresh id %llu after reopen reuses an id (had %llu)",
			 (unsigned long long)b, (unsigned long long)a);
	CHECK(objstore_list(f->s, &cursor, ids, 8, &n, NULL));
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 0x99);
	assert_int_equal(ids[1], b);
}

static void interrupted_create_and_remove_leave_nothing_visible(void **state)
{
	struct fix *f = *state;
	struct objstore_statfs sf;
	char path[512];

	fill_object(f, 5, 100);
	CHECK(objstore_close(f->s));
	f->s = NULL;
	/* What a crash between the steps of create and remove leaves. */
	snprintf(path, sizeof(path), "%s/objects/0000000000000006.tmp", f->path);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/objects/0000000000000005", f->path);
	snprintf(path + strlen(path), 64, ".dead");
	assert_int_equal(rename(obj_file(f, 5, ""), path), 0);
	CHECK(open_store(f, "", 0, NULL));
	CHECK(objstore_statfs(f->s, &sf, NULL));
	assert_int_equal(sf.objects, 0);
	assert_int_equal(sf.used, 0);
	assert_int_equal(access(path, F_OK), -1);
	CHECK(objstore_create(f->s, 6, NULL));
	CHECK(objstore_create(f->s, 5, NULL));
}

static void capacity_limits_writes_and_statfs_reports_it(void **state)
{
	struct fix *f = *state;
	unsigned char buf[8192] = { 1 };
	struct objstore_statfs sf;
	struct objstore_stat st;

	reopen(f, "?size=16K");
	CHECK(objstore_statfs(f->s, &sf, NULL));
	assert_int_equal(sf.capacity, 16384);
	CHECK(objstore_create(f->s, 1, NULL));
	CHECK(objstore_write(f->s, 1, 0, buf, 8192, NULL));
	CHECK(objstore_write(f->s, 1, 8192, buf, 8192, NULL));
	CHECK_ERR(objstore_write(f->s, 1, 16384, buf, 1, NULL), -ENOSPC);
	CHECK(objstore_write(f->s, 1, 100, buf, 8000, NULL));	/* overwrite */
	CHECK(objstore_stat(f->s, 1, &st, NULL));
	assert_int_equal(st.size, 16384);
	CHECK(objstore_punch(f->s, 1, 0, 8192, NULL));
	CHECK(objstore_write(f->s, 1, 16384, buf, 4096, NULL));
	/* The capacity is remembered; without one the host's space counts. */
	reopen(f, "");
	CHECK(objstore_statfs(f->s, &sf, NULL));
	assert_int_equal(sf.capacity, 16384);
	assert_int_equal(sf.used, 12288);
	assert_int_equal(sf.objects, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(files_are_where_the_manual_says),
		T(far_writes_stay_sparse_on_the_host),
		T(flipped_data_byte_reads_ebadmsg_naming_object_and_offset),
		T(data_in_a_hole_reads_ebadmsg),
		T(truncated_checksum_file_is_reported_not_crashed_on),
		T(truncated_meta_and_attr_files_read_euclean),
		T(newer_or_foreign_header_fails_eproto),
		T(other_directories_are_refused_clearly),
		T(second_open_fails_ebusy_in_this_and_another_process),
		T(reopen_keeps_objects_attributes_and_fresh_ids),
		T(interrupted_create_and_remove_leave_nothing_visible),
		T(capacity_limits_writes_and_statfs_reports_it),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
