/*
 * test_dirpower.c - what a dir: store keeps through a power cut: the
 * store lives on an ext4 image on a loop device, and the image's
 * filesystem is shut down without flushing its log (FS_IOC_SHUTDOWN, as
 * tests/crash/lib.sh does), then remounted, so only what reached the
 * device is read back. Everything objstore_sync() made durable must read
 * back intact, whatever was changed after it.
 *
 * Needs root (loop devices, mount), as the power-loss crash test does.
 * A cut in the middle of a sync is made by doing the sync's first pass
 * (checksums and meta) by hand; cuts at random moments are the crash
 * tests' job.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "objstore/objstore.h"

#ifndef FS_IOC_SHUTDOWN
#define FS_IOC_SHUTDOWN		_IOR('X', 125, uint32_t)
#endif
#define SHUTDOWN_NOLOGFLUSH	0x2

#define CHECK(call) do {						\
	long r_ = (long)(call);						\
	if (r_ < 0)							\
		fail_msg("%s failed: %s", #call, strerror((int)-r_));	\
} while (0)

struct fix {
	char top[256];		/* mkdtemp directory */
	char img[300];		/* the ext4 image */
	char mnt[300];		/* where it is mounted */
	char loop[64];		/* its loop device */
	char uri[340];
	struct objstore *s;
};

static int run(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void store_open(struct fix *f)
{
	struct mixfs_err e = { 0 };
	int ret = objstore_open(f->uri, OBJSTORE_OPEN_CREATE, &f->s, &e);

	if (ret)
		fail_msg("opening %s: %s", f->uri, e.msg);
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	char cmd[400];
	FILE *p;

	if (!f)
		return -1;
	snprintf(f->top, sizeof(f->top), "/tmp/mixfs-dirpower-XXXXXX");
	if (!mkdtemp(f->top)) {
		free(f);
		return -1;
	}
	snprintf(f->img, sizeof(f->img), "%s/img", f->top);
	snprintf(f->mnt, sizeof(f->mnt), "%s/mnt", f->top);
	snprintf(f->uri, sizeof(f->uri), "dir:%s/store", f->mnt);
	if (mkdir(f->mnt, 0700) ||
	    run("truncate -s 64M %s && mkfs.ext4 -q %s </dev/null >/dev/null 2>&1",
		f->img, f->img)) {
		print_error("cannot make an ext4 image in %s\n", f->top);
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "losetup --find --show %s", f->img);
	p = popen(cmd, "r");
	if (!p || !fgets(f->loop, sizeof(f->loop), p)) {
		if (p)
			pclose(p);
		print_error("losetup failed (this test needs root)\n");
		return -1;
	}
	pclose(p);
	f->loop[strcspn(f->loop, "\n")] = '\0';
	if (run("blockdev --setrw %s && mount -o rw %s %s", f->loop, f->loop,
		f->mnt)) {
		print_error("cannot mount %s on %s\n", f->loop, f->mnt);
		run("losetup -d %s", f->loop);
		return -1;
	}
	store_open(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	if (f->s)
		objstore_close(f->s);
	run("umount %s 2>/dev/null", f->mnt);
	run("losetup -d %s", f->loop);
	run("rm -rf %s", f->top);
	free(f);
	return 0;
}

/* Commit the host's journal the way anyone's fsync on the same
 * filesystem does, without syncing the store. */
static void host_fsync_elsewhere(struct fix *f)
{
	char path[340];
	int fd;

	snprintf(path, sizeof(path), "%s/elsewhere", f->mnt);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(fsync(fd), 0);
	close(fd);
}

/* Cut the power of the store's filesystem, close the store on the dead
 * filesystem, remount the image (its journal replays) and reopen. */
static void power_cut_and_reopen(struct fix *f)
{
	uint32_t how = SHUTDOWN_NOLOGFLUSH;
	int fd = open(f->mnt, O_RDONLY | O_DIRECTORY);

	assert_true(fd >= 0);
	if (ioctl(fd, FS_IOC_SHUTDOWN, &how))
		fail_msg("FS_IOC_SHUTDOWN on %s: %s", f->mnt, strerror(errno));
	close(fd);
	objstore_close(f->s);
	f->s = NULL;
	if (run("umount %s && mount -o rw %s %s", f->mnt, f->loop, f->mnt))
		fail_msg("remounting %s after the cut failed", f->loop);
	store_open(f);
}

static void fill(unsigned char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 9));
}

/* Compare [0, @len) of object @id with @want, saying where they differ. */
static void expect_bytes(struct fix *f, uint64_t id, const unsigned char *want,
			 size_t len)
{
	unsigned char *got = malloc(len);
	struct mixfs_err e = { 0 };
	ssize_t n;

	assert_non_null(got);
	n = objstore_read(f->s, id, 0, got, len, &e);
	if (n < 0)
		fail_msg("object %" PRIu64 ": reading %zu synced bytes after the "
			 "power cut failed: %s", id, len, e.msg);
	if ((size_t)n != len)
		fail_msg("object %" PRIu64 ": %zd of %zu synced bytes read back",
			 id, n, len);
	for (size_t i = 0; i < len; i++)
		if (got[i] != want[i])
			fail_msg("object %" PRIu64 ": byte %zu is %#x after the "
				 "power cut, %#x was synced", id, i, got[i],
				 want[i]);
	free(got);
}

/*
 * A truncate inside a chunk, not synced, followed by any fsync on the
 * host filesystem: the host's journal commits the cut of the data file,
 * and the chunk's head, synced before, must still read back.
 */
static void truncate_inside_a_chunk_keeps_synced_head_through_power_cut(
	void **state)
{
	struct fix *f = *state;
	unsigned char buf[3 * 4096];

	fill(buf, sizeof(buf), 1);
	CHECK(objstore_create(f->s, 1, NULL));
	CHECK(objstore_write(f->s, 1, 0, buf, sizeof(buf), NULL));
	CHECK(objstore_sync(f->s, NULL));
	CHECK(objstore_truncate(f->s, 1, 5000, NULL));
	host_fsync_elsewhere(f);
	power_cut_and_reopen(f);
	expect_bytes(f, 1, buf, 5000);
}

/*
 * The same where the checksum file is cut at a block boundary (513 chunks
 * cut to 512): only the data file's cut carries its last block out with
 * the host's journal, ahead of the chunk's new checksum.
 */
static void truncate_at_checksum_block_end_keeps_synced_head_through_power_cut(
	void **state)
{
	struct fix *f = *state;
	size_t len = 513 * 4096, cut = 511 * 4096 + 100;
	unsigned char *buf = malloc(len);

	assert_non_null(buf);
	fill(buf, len, 3);
	CHECK(objstore_create(f->s, 3, NULL));
	CHECK(objstore_write(f->s, 3, 0, buf, len, NULL));
	CHECK(objstore_sync(f->s, NULL));
	CHECK(objstore_truncate(f->s, 3, cut, NULL));
	host_fsync_elsewhere(f);
	power_cut_and_reopen(f);
	expect_bytes(f, 3, buf, cut);
	free(buf);
}

/* The same with the truncate synced: the cut itself is durable. */
static void synced_truncate_inside_a_chunk_survives_power_cut(void **state)
{
	struct fix *f = *state;
	unsigned char buf[2 * 4096], back[4096];
	struct objstore_stat st;

	fill(buf, sizeof(buf), 2);
	CHECK(objstore_create(f->s, 2, NULL));
	CHECK(objstore_write(f->s, 2, 0, buf, sizeof(buf), NULL));
	CHECK(objstore_truncate(f->s, 2, 4100, NULL));
	CHECK(objstore_sync(f->s, NULL));
	power_cut_and_reopen(f);
	CHECK(objstore_stat(f->s, 2, &st, NULL));
	assert_int_equal(st.size, 4100);
	expect_bytes(f, 2, buf, 4100);
	/* Growing again shows zeros past the cut, not the old bytes. */
	CHECK(objstore_truncate(f->s, 2, 8192, NULL));
	CHECK(objstore_read(f->s, 2, 4096, back, 4096, NULL));
	for (size_t i = 4; i < 4096; i++)
		if (back[i])
			fail_msg("byte %zu after regrowing is %#x, not 0",
				 4096 + i, back[i]);
}

/* Objects made, written and synced, with more changes after the sync:
 * the synced state of each untouched byte reads back. */
static void synced_objects_survive_power_cut_with_later_changes(void **state)
{
	struct fix *f = *state;
	unsigned char buf[6][9000], other[100];
	uint64_t id;

	for (id = 10; id < 16; id++) {
		fill(buf[id - 10], sizeof(buf[0]), (unsigned)id);
		CHECK(objstore_create(f->s, id, NULL));
		CHECK(objstore_write(f->s, id, 0, buf[id - 10],
				     sizeof(buf[0]), NULL));
		CHECK(objstore_setattr(f->s, id, "user.k", "v", 1, NULL));
	}
	CHECK(objstore_sync(f->s, NULL));
	memset(other, 0xee, sizeof(other));
	CHECK(objstore_write(f->s, 10, 9000, other, sizeof(other), NULL));
	CHECK(objstore_truncate(f->s, 11, 8193, NULL));
	CHECK(objstore_setattr(f->s, 12, "user.k", "w", 1, NULL));
	CHECK(objstore_create(f->s, 20, NULL));
	host_fsync_elsewhere(f);
	power_cut_and_reopen(f);
	for (id = 10; id < 16; id++)
		expect_bytes(f, id, buf[id - 10], id == 11 ? 8193 :
			     sizeof(buf[0]));
}

/* fsync file @name of object @id behind the store's back. */
static void fsync_obj_file(struct fix *f, uint64_t id, const char *name)
{
	char path[400];
	int fd;

	snprintf(path, sizeof(path), "%s/store/objects/%016" PRIx64 "/%s",
		 f->mnt, id, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		fail_msg("opening %s: %s", path, strerror(errno));
	assert_int_equal(fsync(fd), 0);
	close(fd);
}

/* Read chunk @i of object @id and insist it is [@a or @b)[0, @len). */
static void expect_chunk_either(struct fix *f, uint64_t id, size_t i,
				const unsigned char *a, const unsigned char *b,
				size_t len)
{
	unsigned char got[4096];
	struct mixfs_err e = { 0 };
	ssize_t n = objstore_read(f->s, id, i * 4096, got, len, &e);

	if (n < 0)
		fail_msg("object %" PRIu64 ": chunk %zu reads %s after the "
			 "power cut: %s", id, i, strerror((int)-n), e.msg);
	assert_int_equal(n, (ssize_t)len);
	if (memcmp(got, a, len) && memcmp(got, b, len))
		fail_msg("object %" PRIu64 ": chunk %zu is neither its synced "
			 "nor its new bytes after the power cut", id, i);
}

/*
 * A sync cut between its two passes: the checksum and meta files made
 * durable, the data not (done here by hand, as dir_sync's first pass
 * does). Chunks changed since the last sync, whole and in part, twice,
 * and one appended, read back as their synced or their new bytes.
 */
static void sync_cut_after_checksums_reads_synced_or_new_bytes(void **state)
{
	struct fix *f = *state;
	unsigned char a[3 * 4096], b[4096], now[4 * 4096], zeros[4096] = { 0 };

	fill(a, sizeof(a), 4);
	fill(b, sizeof(b), 5);
	CHECK(objstore_create(f->s, 4, NULL));
	CHECK(objstore_write(f->s, 4, 0, a, sizeof(a), NULL));
	CHECK(objstore_sync(f->s, NULL));
	memcpy(now, a, sizeof(a));
	memset(now + sizeof(a), 0, 4096);
	CHECK(objstore_write(f->s, 4, 0, b, 4096, NULL));
	memcpy(now, b, 4096);
	CHECK(objstore_write(f->s, 4, 10, a, 100, NULL));
	memcpy(now + 10, a, 100);
	CHECK(objstore_write(f->s, 4, 4096 + 300, b, 50, NULL));
	memcpy(now + 4096 + 300, b, 50);
	CHECK(objstore_write(f->s, 4, 3 * 4096, b, 4096, NULL));
	memcpy(now + 3 * 4096, b, 4096);
	fsync_obj_file(f, 4, "0.sum");
	fsync_obj_file(f, 4, "meta");
	power_cut_and_reopen(f);
	for (size_t i = 0; i < 3; i++)
		expect_chunk_either(f, 4, i, a + i * 4096, now + i * 4096,
				    4096);
	expect_chunk_either(f, 4, 3, zeros, now + 3 * 4096, 4096);
}

/*
 * A truncate not synced, its cut of the data file committed by the
 * host's journal, the object's size perhaps not: the whole object, up to
 * whichever size it has after the cut, reads without an error.
 */
static void unsynced_truncate_reads_whole_object_after_power_cut(void **state)
{
	struct fix *f = *state;
	size_t len = 600 * 4096, cut = 5000;
	unsigned char *buf = malloc(len), *back = malloc(len);
	struct objstore_stat st;
	struct mixfs_err e = { 0 };
	ssize_t n;

	assert_non_null(buf);
	assert_non_null(back);
	fill(buf, len, 6);
	CHECK(objstore_create(f->s, 5, NULL));
	CHECK(objstore_write(f->s, 5, 0, buf, len, NULL));
	CHECK(objstore_sync(f->s, NULL));
	CHECK(objstore_truncate(f->s, 5, cut, NULL));
	host_fsync_elsewhere(f);
	power_cut_and_reopen(f);
	CHECK(objstore_stat(f->s, 5, &st, NULL));
	n = objstore_read(f->s, 5, 0, back, len, &e);
	if (n < 0)
		fail_msg("reading the %" PRIu64 " bytes of an object truncated "
			 "to %zu before the power cut: %s", st.size, cut, e.msg);
	assert_int_equal(n, (ssize_t)st.size);
	assert_memory_equal(back, buf, cut);
	for (size_t i = cut; i < (size_t)n; i++)
		if (back[i] && back[i] != buf[i])
			fail_msg("byte %zu past the cut reads %#x, neither 0 "
				 "nor its synced %#x", i, back[i], buf[i]);
	free(buf);
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(truncate_inside_a_chunk_keeps_synced_head_through_power_cut),
		T(truncate_at_checksum_block_end_keeps_synced_head_through_power_cut),
		T(synced_truncate_inside_a_chunk_survives_power_cut),
		T(synced_objects_survive_power_cut_with_later_changes),
		T(sync_cut_after_checksums_reads_synced_or_new_bytes),
		T(unsynced_truncate_reads_whole_object_after_power_cut),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
