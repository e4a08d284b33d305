/*
 * test_posix_io.c - file data: sparse files and SEEK_HOLE/SEEK_DATA,
 * offsets past 4 GiB, truncate up and down, fallocate (allocate, keep
 * size, punch hole), copy_file_range, pread/pwrite at odd offsets across
 * page and 64 KiB boundaries, a 64 MiB file written in odd-sized chunks,
 * mmap reads and shared writes (also across ftruncate), fsync, statfs and
 * st_blocks.
 *
 * Run against any directory:
 *
 *   MIXFS_TEST_DIR=/mnt/x CMOCKA_MESSAGE_OUTPUT=TAP ./test_posix_io
 *
 * MIXFS_LONG=1 writes 1 GiB instead of 64 MiB in the large-file case.
 * Data is a pattern that depends on the file offset (mt_pattern), so a
 * byte written at the wrong place or a stale byte is found wherever it
 * is. Each case works in a fresh subdirectory of MIXFS_TEST_DIR and
 * removes it afterwards.
 */
#include "mount_util.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define KiB 1024LL
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

/* Fail unless [@off, @off + @len) of @fd reads as zeros. */
static void expect_zeros(int fd, off_t off, size_t len, const char *what)
{
	static char buf[256 * 1024];
	size_t i, n;

	while (len > 0) {
		n = len < sizeof(buf) ? len : sizeof(buf);
		mt_pread_all(fd, buf, n, off, what);
		for (i = 0; i < n; i++)
			CHECK(buf[i] == 0, "%s: byte at %lld is %#x, expected 0",
			      what, (long long)(off + i), (unsigned char)buf[i]);
		off += n;
		len -= n;
	}
}

/* Fail unless [@off, @off + @len) of @fd holds the pattern of @seed. */
static void expect_pattern(int fd, off_t off, size_t len, uint32_t seed,
			   const char *what)
{
	static char buf[1 << 20];
	size_t n, bad;

	while (len > 0) {
		n = len < sizeof(buf) ? len : sizeof(buf);
		mt_pread_all(fd, buf, n, off, what);
		bad = mt_pattern_check(buf, n, off, seed);
		CHECK(bad == n, "%s: byte at %lld differs from what was written",
		      what, (long long)(off + bad));
		off += n;
		len -= n;
	}
}

static void write_pattern(int fd, off_t off, size_t len, uint32_t seed)
{
	char *buf = malloc(len ? len : 1);

	assert_non_null(buf);
	mt_pattern(buf, len, off, seed);
	mt_pwrite_all(fd, buf, len, off, "pattern");
	free(buf);
}

static void sparse_file_holes_read_zero_and_seek_agrees(void **state)
{
	off_t size = MiB + 4 * KiB, h, d;
	int fd;

	(void)state;
	fd = CHECK_SYS(open("f", O_RDWR | O_CREAT, 0644));
	write_pattern(fd, 0, 4 * KiB, 1);
	write_pattern(fd, MiB, 4 * KiB, 1);
	CHECK_SYS(fsync(fd));
	CHECK(mt_lstat("f").st_size == size, "sparse file size %lld",
	      (long long)mt_lstat("f").st_size);
	expect_pattern(fd, 0, 4 * KiB, 1, "first extent");
	expect_pattern(fd, MiB, 4 * KiB, 1, "second extent");
	expect_zeros(fd, 4 * KiB, MiB - 4 * KiB, "hole");
	CHECK(lseek(fd, 0, SEEK_DATA) == 0, "SEEK_DATA from 0 is %lld",
	      (long long)lseek(fd, 0, SEEK_DATA));
	/* A filesystem may report no holes (SEEK_HOLE == size); where it
	 * reports one, it must lie between the data and read as zeros. */
	h = CHECK_SYS(lseek(fd, 0, SEEK_HOLE));
	CHECK(h == size || (h >= 4 * KiB && h < MiB),
	      "SEEK_HOLE from 0 is %lld, data at [0, 4K) and [1M, 1M+4K)",
	      (long long)h);
	if (h < size) {
		d = CHECK_SYS(lseek(fd, h, SEEK_DATA));
		CHECK(d > h && d <= MiB, "SEEK_DATA from the hole at %lld "
		      "is %lld", (long long)h, (long long)d);
		expect_zeros(fd, h, d - h, "reported hole");
	}
	h = CHECK_SYS(lseek(fd, MiB + 100, SEEK_HOLE));
	CHECK(h == size, "SEEK_HOLE inside the last extent is %lld, expected "
	      "the size %lld", (long long)h, (long long)size);
	d = CHECK_SYS(lseek(fd, MiB + 100, SEEK_DATA));
	CHECK(d == MiB + 100, "SEEK_DATA inside data moved to %lld",
	      (long long)d);
	CHECK_ERRNO(lseek(fd, size, SEEK_DATA), ENXIO);
	CHECK_ERRNO(lseek(fd, size, SEEK_HOLE), ENXIO);
	/* A trailing hole made by extending: data there is zero. */
	CHECK_SYS(ftruncate(fd, 3 * MiB));
	errno = 0;
	d = lseek(fd, 2 * MiB, SEEK_DATA);
	CHECK((d == -1 && errno == ENXIO) || d == 2 * MiB,
	      "SEEK_DATA in a trailing hole gave %lld (%s)", (long long)d,
	      mt_errname(errno));
	expect_zeros(fd, size, 3 * MiB - size, "trailing hole");
	close(fd);
}

static void offsets_beyond_4gib_work(void **state)
{
	struct stat st;
	char c = 0;
	int fd;

	(void)state;
	fd = CHECK_SYS(open("big", O_RDWR | O_CREAT, 0644));
	mt_pwrite_all(fd, "Z", 1, 5 * GiB, "big");
	write_pattern(fd, 4 * GiB - 5, 10, 3);	/* across 2^32 */
	CHECK_SYS(fsync(fd));
	CHECK_SYS(fstat(fd, &st));
	CHECK(st.st_size == 5 * GiB + 1, "size after a byte at 5 GiB is %lld",
	      (long long)st.st_size);
	mt_pread_all(fd, &c, 1, 5 * GiB, "big");
	CHECK(c == 'Z', "byte at 5 GiB read back as %#x", (unsigned char)c);
	expect_pattern(fd, 4 * GiB - 5, 10, 3, "bytes across 4 GiB");
	expect_zeros(fd, 4 * GiB + 5, 4096, "hole past 4 GiB");
	expect_zeros(fd, 0, 4096, "hole at 0");
	expect_zeros(fd, GiB - 10, 20, "hole at 1 GiB");
	CHECK((long long)st.st_blocks * 512 < 16 * MiB,
	      "a 5 GiB file with 11 bytes written uses %lld blocks",
	      (long long)st.st_blocks);
	CHECK(lseek(fd, 0, SEEK_END) == 5 * GiB + 1, "SEEK_END is wrong");
	CHECK_SYS(ftruncate(fd, 4 * GiB + 2));
	expect_pattern(fd, 4 * GiB - 5, 7, 3, "bytes across 4 GiB after "
		       "truncate");
	CHECK(pread(fd, &c, 1, 4 * GiB + 2) == 0, "read at EOF returned data");
	close(fd);
}

static void truncate_down_and_up_zeroes_dropped_data(void **state)
{
	int fd;

	(void)state;
	fd = CHECK_SYS(open("f", O_RDWR | O_CREAT, 0644));
	write_pattern(fd, 0, 200000, 4);
	CHECK_SYS(ftruncate(fd, 50001));
	CHECK(mt_lstat("f").st_size == 50001, "size after truncate down %lld",
	      (long long)mt_lstat("f").st_size);
	expect_pattern(fd, 0, 50001, 4, "kept part");
	CHECK_SYS(truncate("f", 200000));
	expect_pattern(fd, 0, 50001, 4, "kept part after extending");
	expect_zeros(fd, 50001, 200000 - 50001, "extension after truncate");
	/* Within one block: the tail of the block must not come back. */
	CHECK_SYS(ftruncate(fd, 4097));
	CHECK_SYS(ftruncate(fd, 8192));
	expect_pattern(fd, 0, 4097, 4, "start of file");
	expect_zeros(fd, 4097, 8192 - 4097, "block tail after truncate");
	CHECK_SYS(ftruncate(fd, 0));
	CHECK_SYS(ftruncate(fd, 1000));
	expect_zeros(fd, 0, 1000, "file truncated to 0 and extended");
	CHECK_ERRNO(ftruncate(fd, -1), EINVAL);
	close(fd);
	/* Extending by writing past EOF leaves a zero gap. */
	fd = CHECK_SYS(open("g", O_RDWR | O_CREAT, 0644));
	write_pattern(fd, 0, 10, 5);
	write_pattern(fd, 70000, 10, 5);
	expect_zeros(fd, 10, 70000 - 10, "gap from writing past EOF");
	close(fd);
}

static void fallocate_allocates_keeps_size_and_punches(void **state)
{
	struct stat st, st2;
	int fd;

	(void)state;
	fd = CHECK_SYS(open("f", O_RDWR | O_CREAT, 0644));
	CHECK_SYS(fallocate(fd, 0, 0, MiB));
	CHECK_SYS(fstat(fd, &st));
	CHECK(st.st_size == MiB, "size after fallocate of 1 MiB is %lld",
	      (long long)st.st_size);
	expect_zeros(fd, 0, MiB, "fallocated range");
	CHECK(st.st_blocks * 512 >= MiB, "fallocate of 1 MiB reserved only %lld "
	      "blocks", (long long)st.st_blocks);
	CHECK_SYS(fallocate(fd, FALLOC_FL_KEEP_SIZE, MiB, MiB));
	CHECK_SYS(fstat(fd, &st2));
	CHECK(st2.st_size == MiB, "FALLOC_FL_KEEP_SIZE changed size to %lld",
	      (long long)st2.st_size);
	CHECK(st2.st_blocks >= st.st_blocks, "KEEP_SIZE fallocate freed space");
	/* fallocate does not disturb existing data. */
	write_pattern(fd, 0, MiB, 6);
	CHECK_SYS(fallocate(fd, 0, 1000, 3000));
	expect_pattern(fd, 0, MiB, 6, "data after fallocate over it");
	/* Punching: the range reads zeros, the rest and the size stay. */
	CHECK_SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			    1000, 70000));
	CHECK(mt_lstat("f").st_size == MiB, "punch changed the size to %lld",
	      (long long)mt_lstat("f").st_size);
	expect_pattern(fd, 0, 1000, 6, "data before the punched hole");
	expect_zeros(fd, 1000, 70000, "punched hole");
	expect_pattern(fd, 71000, MiB - 71000, 6, "data after the hole");
	CHECK_ERRNO(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 10), EOPNOTSUPP);
	close(fd);
}

static void copy_file_range_copies_exact_bytes(void **state)
{
	loff_t in = 1234, out = 777;
	ssize_t n, total = 0;
	int src, dst;

	(void)state;
	src = CHECK_SYS(open("src", O_RDWR | O_CREAT, 0644));
	dst = CHECK_SYS(open("dst", O_RDWR | O_CREAT, 0644));
	write_pattern(src, 0, 300000, 7);
	while (total < 100000) {
		n = copy_file_range(src, &in, dst, &out, 100000 - total, 0);
		CHECK(n > 0, "copy_file_range returned %zd (%s) after %zd bytes",
		      n, mt_errname(errno), total);
		total += n;
	}
	CHECK(in == 101234 && out == 100777, "offsets after copy %lld/%lld",
	      (long long)in, (long long)out);
	CHECK(mt_lstat("dst").st_size == 100777, "destination size %lld",
	      (long long)mt_lstat("dst").st_size);
	expect_zeros(dst, 0, 777, "destination before the copy");
	{
		char *buf = malloc(100000), *want = malloc(100000);

		assert_non_null(buf);
		assert_non_null(want);
		mt_pread_all(dst, buf, 100000, 777, "dst");
		mt_pattern(want, 100000, 1234, 7);
		CHECK(memcmp(buf, want, 100000) == 0,
		      "copied bytes differ from the source range");
		free(buf);
		free(want);
	}
	/* Past the source's end nothing is copied. */
	in = 400000;
	CHECK(copy_file_range(src, &in, dst, NULL, 10, 0) == 0,
	      "copy from beyond EOF copied data");
	close(src);
	close(dst);
}

static void pread_pwrite_at_odd_offsets_match_shadow(void **state)
{
	enum { SIZE = 512 * 1024 };
	static const struct { off_t off; size_t len; } w[] = {
		{ 4095, 2 }, { 65535, 3 }, { 131072 - 7, 4097 },
		{ 1, 65537 }, { 200001, 130000 }, { 4096 * 20 - 1, 1 },
		{ 65536 * 6 + 3, 65536 }, { 300000, 1 }, { 511 * 1024, 1024 },
		{ 8191, 8193 },
	};
	static unsigned char shadow[SIZE], buf[SIZE];
	size_t i, k;
	off_t off;
	int fd;

	(void)state;
	memset(shadow, 0, sizeof(shadow));
	fd = CHECK_SYS(open("f", O_RDWR | O_CREAT, 0644));
	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		/* Each write's data differs from what it overwrites. */
		mt_pattern(buf, w[i].len, w[i].off, 100 + i);
		mt_pwrite_all(fd, buf, w[i].len, w[i].off, "f");
		memcpy(shadow + w[i].off, buf, w[i].len);
	}
	CHECK(mt_lstat("f").st_size == SIZE, "size %lld, expected %d",
	      (long long)mt_lstat("f").st_size, SIZE);
	/* Read back in odd pieces too. */
	for (off = 0, k = 1; off < SIZE; off += k, k = k * 3 + 1) {
		if (k > 70000)
			k = 7;
		if (off + (off_t)k > SIZE)
			k = SIZE - off;
		mt_pread_all(fd, buf, k, off, "f");
		for (i = 0; i < k; i++)
			CHECK(buf[i] == shadow[off + i], "byte at %lld is %#x, "
			      "expected %#x", (long long)(off + i), buf[i],
			      shadow[off + i]);
	}
	close(fd);
}

static void large_file_in_odd_chunks_reads_back(void **state)
{
	static const size_t chunks[] = { 1, 4095, 4097, 65537, 131071,
					 1000003, 7, 262147 };
	const char *lng = getenv("MIXFS_LONG");
	off_t size = (lng && !strcmp(lng, "1")) ? GiB : 64 * MiB, off = 0;
	char *buf = malloc(1000003);
	size_t i = 0, n;
	int fd;

	(void)state;
	assert_non_null(buf);
	fd = CHECK_SYS(open("big", O_RDWR | O_CREAT, 0644));
	while (off < size) {
		n = chunks[i++ % 8];
		if (off + (off_t)n > size)
			n = size - off;
		mt_pattern(buf, n, off, 8);
		mt_write_all(fd, buf, n, "big");
		off += n;
	}
	free(buf);
	CHECK_SYS(fsync(fd));
	close(fd);
	CHECK(mt_lstat("big").st_size == size, "size %lld, expected %lld",
	      (long long)mt_lstat("big").st_size, (long long)size);
	/* Read through a fresh descriptor, in other chunk sizes. */
	fd = CHECK_SYS(open("big", O_RDONLY));
	expect_pattern(fd, 0, size, 8, "large file");
	close(fd);
}

static void mmap_reads_and_shared_writes_are_coherent(void **state)
{
	const size_t len = 3 * 4096 + 100;
	unsigned char *m, buf[16];
	int fd;

	(void)state;
	fd = CHECK_SYS(open("f", O_RDWR | O_CREAT, 0644));
	write_pattern(fd, 0, len, 9);
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED, "mmap: %s", mt_errname(errno));
	CHECK(mt_pattern_check(m, len, 0, 9) == len,
	      "mapped data differs from the file at %zu",
	      mt_pattern_check(m, len, 0, 9));
	/* Stores through the map reach read() after msync. */
	memcpy(m + 4095, "MMAP", 4);
	memcpy(m + len - 3, "end", 3);
	CHECK_SYS(msync(m, len, MS_SYNC));
	mt_pread_all(fd, buf, 4, 4095, "f");
	CHECK(memcmp(buf, "MMAP", 4) == 0, "read() does not see a store "
	      "through a shared mapping");
	mt_pread_all(fd, buf, 3, len - 3, "f");
	CHECK(memcmp(buf, "end", 3) == 0, "store in the last partial page "
	      "not seen");
	/* write() shows in the mapping. */
	mt_pwrite_all(fd, "WRITE", 5, 8000, "f");
	CHECK(memcmp(m + 8000, "WRITE", 5) == 0, "a write() is not visible "
	      "through the mapping");
	CHECK_SYS(munmap(m, len));
	close(fd);
	/* And everything survived the unmap and close. */
	fd = CHECK_SYS(open("f", O_RDONLY));
	mt_pread_all(fd, buf, 4, 4095, "f");
	CHECK(memcmp(buf, "MMAP", 4) == 0, "mapped store lost after close");
	expect_pattern(fd, 0, 4095, 9, "untouched start");
	CHECK(mt_lstat("f").st_size == (off_t)len,
	      "size changed by mapped stores to %lld",
	      (long long)mt_lstat("f").st_size);
	close(fd);
}

static void ftruncate_of_mapped_file_zeroes_and_faults(void **state)
{
	unsigned char *m;
	pid_t pid;
	int fd, status;

	(void)state;
	fd = CHECK_SYS(open("f", O_RDWR | O_CREAT, 0644));
	write_pattern(fd, 0, 4 * 4096, 10);
	m = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED, "mmap: %s", mt_errname(errno));
	CHECK(mt_pattern_check(m, 4 * 4096, 0, 10) == 4 * 4096,
	      "mapped data differs");
	CHECK_SYS(ftruncate(fd, 4096 + 10));
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		volatile unsigned char c;

		signal(SIGBUS, SIG_DFL);	/* cmocka catches it otherwise */
		c = m[3 * 4096];

		(void)c;
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS,
	      "touching a mapped page past EOF did not raise SIGBUS");
	CHECK_SYS(ftruncate(fd, 4 * 4096));
	CHECK(mt_pattern_check(m, 4096 + 10, 0, 10) == 4096 + 10,
	      "data before the truncation point changed in the mapping");
	for (size_t i = 4096 + 10; i < 4 * 4096; i++)
		CHECK(m[i] == 0, "mapped byte %zu is %#x after truncate down "
		      "and up, expected 0", i, m[i]);
	expect_zeros(fd, 4096 + 10, 3 * 4096 - 10, "file after truncate");
	CHECK_SYS(munmap(m, 4 * 4096));
	close(fd);
}

static void fsync_fdatasync_statfs_and_blocks_are_sane(void **state)
{
	struct statfs sfs;
	struct stat st;
	int fd, dfd;

	(void)state;
	fd = CHECK_SYS(open("dense", O_RDWR | O_CREAT, 0644));
	write_pattern(fd, 0, 2 * MiB, 11);
	CHECK(fsync(fd) == 0, "fsync: %s", mt_errname(errno));
	CHECK(fdatasync(fd) == 0, "fdatasync: %s", mt_errname(errno));
	CHECK_SYS(fstat(fd, &st));
	CHECK(st.st_blocks * 512 >= 2 * MiB,
	      "a dense 2 MiB file has st_blocks %lld",
	      (long long)st.st_blocks);
	CHECK(st.st_blocks * 512 <= 4 * MiB + 64 * KiB,
	      "a dense 2 MiB file has st_blocks %lld, more than twice its size",
	      (long long)st.st_blocks);
	close(fd);
	fd = CHECK_SYS(open("sparse", O_RDWR | O_CREAT, 0644));
	mt_pwrite_all(fd, "x", 1, 100 * MiB, "sparse");
	CHECK_SYS(fsync(fd));
	CHECK_SYS(fstat(fd, &st));
	CHECK(st.st_blocks * 512 < MiB, "a sparse 100 MiB file with one byte "
	      "has st_blocks %lld", (long long)st.st_blocks);
	close(fd);
	dfd = CHECK_SYS(open(".", O_RDONLY | O_DIRECTORY));
	CHECK(fsync(dfd) == 0, "fsync of a directory: %s", mt_errname(errno));
	close(dfd);
	CHECK_SYS(statfs(".", &sfs));
	CHECK(sfs.f_bsize > 0, "f_bsize is %ld", (long)sfs.f_bsize);
	CHECK(sfs.f_blocks >= sfs.f_bfree && sfs.f_bfree >= sfs.f_bavail,
	      "statfs blocks %llu free %llu avail %llu are inconsistent",
	      (unsigned long long)sfs.f_blocks,
	      (unsigned long long)sfs.f_bfree,
	      (unsigned long long)sfs.f_bavail);
	CHECK(sfs.f_files >= sfs.f_ffree, "statfs files %llu < free %llu",
	      (unsigned long long)sfs.f_files,
	      (unsigned long long)sfs.f_ffree);
	CHECK(sfs.f_namelen == 255, "f_namelen is %ld, expected 255",
	      (long)sfs.f_namelen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		MT_CASE(sparse_file_holes_read_zero_and_seek_agrees),
		MT_CASE(offsets_beyond_4gib_work),
		MT_CASE(truncate_down_and_up_zeroes_dropped_data),
		MT_CASE(fallocate_allocates_keeps_size_and_punches),
		MT_CASE(copy_file_range_copies_exact_bytes),
		MT_CASE(pread_pwrite_at_odd_offsets_match_shadow),
		MT_CASE(large_file_in_odd_chunks_reads_back),
		MT_CASE(mmap_reads_and_shared_writes_are_coherent),
		MT_CASE(ftruncate_of_mapped_file_zeroes_and_faults),
		MT_CASE(fsync_fdatasync_statfs_and_blocks_are_sane),
	};

	mt_base();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
