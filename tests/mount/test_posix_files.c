/*
 * test_posix_files.c - creating and opening files, O_APPEND (also from
 * several threads and processes at once), unlinking an open file, and the
 * special files mknod makes (FIFO, socket, character and block devices).
 *
 * Run against any directory (as root, for the device nodes):
 *
 *   MIXFS_TEST_DIR=/mnt/x CMOCKA_MESSAGE_OUTPUT=TAP ./test_posix_files
 *
 * Each case works in a fresh subdirectory of MIXFS_TEST_DIR and removes
 * it afterwards. Not covered here: names and links (test_posix_names),
 * data I/O (test_posix_io).
 */
#include "mount_util.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void create_excl_on_existing_fails_eexist(void **state)
{
	int fd;

	(void)state;
	mt_write_file("f", "x", 1);
	CHECK_ERRNO(open("f", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	/* O_EXCL does not follow a symlink, not even a dangling one. */
	CHECK_SYS(symlink("nowhere", "dangling"));
	CHECK_ERRNO(open("dangling", O_CREAT | O_EXCL | O_WRONLY, 0644),
		    EEXIST);
	CHECK_ERRNO(access("nowhere", F_OK), ENOENT);
	mkdir("d", 0755);
	CHECK_ERRNO(open("d", O_CREAT | O_EXCL | O_RDONLY, 0644), EEXIST);
	fd = CHECK_SYS(open("g", O_CREAT | O_EXCL | O_WRONLY, 0640));
	close(fd);
	CHECK(mt_lstat("g").st_size == 0, "a new file is not empty");
	CHECK((mt_lstat("g").st_mode & 07777) == 0640,
	      "new file mode is %o, expected 640",
	      mt_lstat("g").st_mode & 07777);
}

static void create_without_excl_opens_existing_and_keeps_data(void **state)
{
	char buf[8];
	int fd;

	(void)state;
	mt_write_file("f", "hello", 5);
	fd = CHECK_SYS(open("f", O_CREAT | O_RDWR, 0600));
	CHECK(read(fd, buf, sizeof(buf)) == 5 && memcmp(buf, "hello", 5) == 0,
	      "O_CREAT without O_EXCL changed an existing file's data");
	close(fd);
	CHECK((mt_lstat("f").st_mode & 0777) == 0644,
	      "O_CREAT on an existing file changed its mode to %o",
	      mt_lstat("f").st_mode & 0777);
}

static void open_trunc_empties_file(void **state)
{
	char buf[4096];
	struct stat st;
	int fd;

	(void)state;
	mt_pattern(buf, sizeof(buf), 0, 1);
	mt_write_file("f", buf, sizeof(buf));
	fd = CHECK_SYS(open("f", O_RDWR | O_TRUNC));
	CHECK_SYS(fstat(fd, &st));
	CHECK(st.st_size == 0, "size after O_TRUNC is %lld",
	      (long long)st.st_size);
	CHECK(read(fd, buf, sizeof(buf)) == 0, "read after O_TRUNC got data");
	mt_write_all(fd, "ab", 2, "f");
	close(fd);
	CHECK(mt_lstat("f").st_size == 2, "size after rewrite is %lld",
	      (long long)mt_lstat("f").st_size);
	CHECK(mt_read_file("f", buf, sizeof(buf)) == 2 &&
	      memcmp(buf, "ab", 2) == 0, "old data survived O_TRUNC");
}

static void append_writes_at_end_regardless_of_offset(void **state)
{
	char buf[16];
	int fd;

	(void)state;
	mt_write_file("f", "abc", 3);
	fd = CHECK_SYS(open("f", O_WRONLY | O_APPEND));
	CHECK_SYS(lseek(fd, 0, SEEK_SET));
	mt_write_all(fd, "def", 3, "f");
	CHECK(lseek(fd, 0, SEEK_CUR) == 6,
	      "offset after an O_APPEND write is %lld, expected 6",
	      (long long)lseek(fd, 0, SEEK_CUR));
	/* Linux appends even for pwrite on an O_APPEND descriptor. */
	CHECK(pwrite(fd, "gh", 2, 1) == 2, "pwrite: %s", mt_errname(errno));
	close(fd);
	CHECK(mt_read_file("f", buf, sizeof(buf)) == 8 &&
	      memcmp(buf, "abcdefgh", 8) == 0,
	      "O_APPEND did not write at end of file");
}

/*
 * Concurrent appends: each record is "<writer>:<seq>:<len>|" followed by
 * pattern bytes and '\n', written with one write(). Afterwards the file
 * must parse as whole records, each writer's in order, none missing.
 */
#define APPENDERS 4
#define RECORDS 300

static size_t record_make(char *buf, int writer, int seq)
{
	size_t body = 20 + (size_t)((writer * 7919 + seq * 104729) % 3000);
	int h = sprintf(buf, "%d:%d:%zu|", writer, seq, body);

	mt_pattern(buf + h, body, (uint64_t)seq << 16, writer + 1);
	buf[h + body] = '\n';
	return h + body + 1;
}

static int append_records(const char *path, int writer)
{
	char rec[4096];
	int fd, seq;

	fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0)
		return -errno;
	for (seq = 0; seq < RECORDS; seq++) {
		size_t n = record_make(rec, writer, seq);

		if (write(fd, rec, n) != (ssize_t)n) {
			close(fd);
			return -EIO;
		}
	}
	close(fd);
	return 0;
}

static void *append_thread(void *arg)
{
	intptr_t w = (intptr_t)arg;

	return (void *)(intptr_t)append_records("log", (int)w);
}

static void check_records(const char *path)
{
	int next[APPENDERS] = { 0 };
	char *buf, expect[4096];
	size_t len, pos = 0, cap = 16 << 20;
	int w, n;

	buf = malloc(cap);
	assert_non_null(buf);
	len = mt_read_file(path, buf, cap);
	while (pos < len) {
		int writer, seq;
		size_t body, rl;

		if (sscanf(buf + pos, "%d:%d:%zu|", &writer, &seq, &body) != 3 ||
		    writer < 0 || writer >= APPENDERS) {
			free(buf);
			fail_msg("garbage record header at offset %zu", pos);
		}
		rl = record_make(expect, writer, seq);
		if (seq != next[writer] || pos + rl > len ||
		    memcmp(buf + pos, expect, rl) != 0) {
			free(buf);
			fail_msg("record %d of writer %d at offset %zu is torn, "
				 "interleaved or out of order (expected seq %d)",
				 seq, writer, pos, next[writer]);
		}
		next[writer]++;
		pos += rl;
	}
	free(buf);
	for (w = 0; w < APPENDERS; w++) {
		n = next[w];
		CHECK(n == RECORDS, "writer %d: %d of %d records present", w,
		      n, RECORDS);
	}
}

static void append_from_threads_loses_no_record(void **state)
{
	pthread_t th[APPENDERS];
	void *ret;
	intptr_t w;

	(void)state;
	mt_write_file("log", "", 0);
	for (w = 0; w < APPENDERS; w++)
		assert_int_equal(pthread_create(&th[w], NULL, append_thread,
						(void *)w), 0);
	for (w = 0; w < APPENDERS; w++) {
		pthread_join(th[w], &ret);
		CHECK(ret == NULL, "appending thread %d failed: %s", (int)w,
		      mt_errname(-(int)(intptr_t)ret));
	}
	check_records("log");
}

static void append_from_processes_loses_no_record(void **state)
{
	pid_t pid[APPENDERS];
	int w;

	(void)state;
	mt_write_file("log", "", 0);
	fflush(NULL);
	for (w = 0; w < APPENDERS; w++) {
		pid[w] = fork();
		if (pid[w] < 0)
			fail_msg("fork: %s", mt_errname(errno));
		if (pid[w] == 0)
			_exit(append_records("log", w) == 0 ? 0 : 1);
	}
	for (w = 0; w < APPENDERS; w++)
		mt_wait_ok(pid[w], "appending process");
	check_records("log");
}

static void open_missing_fails_enoent(void **state)
{
	(void)state;
	CHECK_ERRNO(open("missing", O_RDONLY), ENOENT);
	CHECK_ERRNO(open("nodir/f", O_CREAT | O_WRONLY, 0644), ENOENT);
	CHECK_ERRNO(open("", O_RDONLY), ENOENT);
	CHECK_ERRNO(truncate("missing", 0), ENOENT);
	CHECK_ERRNO(unlink("missing"), ENOENT);
}

static void path_through_file_fails_enotdir(void **state)
{
	struct stat st;

	(void)state;
	mt_write_file("f", "x", 1);
	CHECK_ERRNO(open("f/x", O_RDONLY), ENOTDIR);
	CHECK_ERRNO(open("f/x", O_CREAT | O_WRONLY, 0644), ENOTDIR);
	CHECK_ERRNO(mkdir("f/d", 0755), ENOTDIR);
	CHECK_ERRNO(stat("f/", &st), ENOTDIR);
	CHECK_ERRNO(open("f", O_RDONLY | O_DIRECTORY), ENOTDIR);
	CHECK_ERRNO(rmdir("f"), ENOTDIR);
}

static void write_open_of_directory_fails_eisdir(void **state)
{
	char buf[8];
	int fd;

	(void)state;
	CHECK_SYS(mkdir("d", 0755));
	CHECK_ERRNO(open("d", O_WRONLY), EISDIR);
	CHECK_ERRNO(open("d", O_RDWR), EISDIR);
	CHECK_ERRNO(open("d", O_WRONLY | O_CREAT, 0644), EISDIR);
	CHECK_ERRNO(truncate("d", 0), EISDIR);
	fd = CHECK_SYS(open("d", O_RDONLY));
	CHECK_ERRNO(read(fd, buf, sizeof(buf)), EISDIR);
	close(fd);
	CHECK_ERRNO(unlink("d"), EISDIR);
}

static void unlinked_open_file_stays_usable(void **state)
{
	const size_t len = 4 << 20;
	struct statfs sfs_open, sfs;
	struct stat st;
	char *buf, tail[8];
	uint64_t need;
	int fd, i;

	(void)state;
	buf = malloc(len);
	assert_non_null(buf);
	mt_pattern(buf, len, 0, 7);
	fd = CHECK_SYS(open("f", O_RDWR | O_CREAT, 0644));
	mt_write_all(fd, buf, len, "f");
	CHECK_SYS(fsync(fd));
	CHECK_SYS(unlink("f"));
	CHECK_ERRNO(lstat("f", &st), ENOENT);
	CHECK_SYS(fstat(fd, &st));
	CHECK(st.st_nlink == 0, "unlinked open file has st_nlink %lu",
	      (unsigned long)st.st_nlink);
	CHECK(st.st_size == (off_t)len, "unlinked file size %lld",
	      (long long)st.st_size);
	memset(buf, 0, len);
	mt_pread_all(fd, buf, len, 0, "unlinked f");
	CHECK(mt_pattern_check(buf, len, 0, 7) == len,
	      "data of an unlinked open file changed");
	mt_pwrite_all(fd, "tailtail", 8, len, "unlinked f");
	mt_pread_all(fd, tail, 8, len, "unlinked f");
	CHECK(memcmp(tail, "tailtail", 8) == 0,
	      "write to an unlinked open file not read back");
	free(buf);
	/* A new file of the same name is a different file. */
	mt_write_file("f", "new", 3);
	CHECK(mt_lstat("f").st_ino != st.st_ino,
	      "a new file reuses the inode of an unlinked open file");
	CHECK_SYS(fstatfs(fd, &sfs_open));
	close(fd);
	/* Space comes back after the last close (release may be async). */
	need = (len / 2) / (sfs_open.f_bsize ? sfs_open.f_bsize : 4096);
	for (i = 0; i < 200; i++) {
		CHECK_SYS(statfs(".", &sfs));
		if (sfs.f_bfree >= sfs_open.f_bfree + need)
			return;
		usleep(10000);
	}
	fail_msg("free blocks %llu after closing a 4 MiB unlinked file, "
		 "%llu before: the space was not released",
		 (unsigned long long)sfs.f_bfree,
		 (unsigned long long)sfs_open.f_bfree);
}

static void mkfifo_makes_working_fifo(void **state)
{
	struct stat st;
	char buf[8];
	int fd;

	(void)state;
	CHECK_SYS(mkfifo("p", 0640));
	st = mt_lstat("p");
	CHECK(S_ISFIFO(st.st_mode), "mkfifo made mode %o", st.st_mode);
	CHECK((st.st_mode & 0777) == 0640, "FIFO mode %o", st.st_mode & 0777);
	CHECK_SYS(mknod("q", S_IFIFO | 0600, 0));
	CHECK(S_ISFIFO(mt_lstat("q").st_mode), "mknod S_IFIFO made mode %o",
	      mt_lstat("q").st_mode);
	/* Data goes through the pipe, not into the filesystem. */
	fd = CHECK_SYS(open("p", O_RDWR));
	mt_write_all(fd, "pipe", 4, "fifo");
	CHECK(read(fd, buf, sizeof(buf)) == 4 && memcmp(buf, "pipe", 4) == 0,
	      "data written to a FIFO not read back");
	close(fd);
	CHECK(mt_lstat("p").st_size == 0, "FIFO has size %lld",
	      (long long)mt_lstat("p").st_size);
	CHECK_ERRNO(mkfifo("p", 0600), EEXIST);
}

static void bound_unix_socket_is_socket_node(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int srv, cli, con;
	char c = 0;

	(void)state;
	strcpy(sa.sun_path, "sock");
	srv = CHECK_SYS(socket(AF_UNIX, SOCK_STREAM, 0));
	CHECK_SYS(bind(srv, (struct sockaddr *)&sa, sizeof(sa)));
	CHECK_SYS(listen(srv, 1));
	CHECK(S_ISSOCK(mt_lstat("sock").st_mode), "bind made mode %o",
	      mt_lstat("sock").st_mode);
	cli = CHECK_SYS(socket(AF_UNIX, SOCK_STREAM, 0));
	CHECK_SYS(connect(cli, (struct sockaddr *)&sa, sizeof(sa)));
	con = CHECK_SYS(accept(srv, NULL, NULL));
	CHECK(write(cli, "s", 1) == 1 && read(con, &c, 1) == 1 && c == 's',
	      "no data through a socket bound in the filesystem");
	close(con);
	close(cli);
	close(srv);
	CHECK_ERRNO(open("sock", O_RDONLY), ENXIO);
	CHECK_SYS(unlink("sock"));
}

static void device_nodes_keep_type_and_rdev(void **state)
{
	static const struct { mode_t type; unsigned maj, min; } dev[] = {
		{ S_IFCHR, 1, 3 }, { S_IFCHR, 4095, 1048575 },
		{ S_IFBLK, 7, 0 }, { S_IFBLK, 259, 70000 },
	};
	char name[16];
	struct stat st;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dev) / sizeof(dev[0]); i++) {
		sprintf(name, "dev%zu", i);
		CHECK_SYS(mknod(name, dev[i].type | 0600,
				makedev(dev[i].maj, dev[i].min)));
		st = mt_lstat(name);
		CHECK((st.st_mode & S_IFMT) == dev[i].type,
		      "%s has type %o, expected %o", name,
		      st.st_mode & S_IFMT, dev[i].type);
		CHECK(major(st.st_rdev) == dev[i].maj &&
		      minor(st.st_rdev) == dev[i].min,
		      "%s has rdev %u:%u, expected %u:%u", name,
		      major(st.st_rdev), minor(st.st_rdev), dev[i].maj,
		      dev[i].min);
		CHECK((st.st_mode & 0777) == 0600, "%s mode %o", name,
		      st.st_mode & 0777);
	}
	CHECK_SYS(mknod("reg", S_IFREG | 0644, 0));
	CHECK(S_ISREG(mt_lstat("reg").st_mode) && mt_lstat("reg").st_size == 0,
	      "mknod S_IFREG did not make an empty regular file");
	CHECK_ERRNO(mknod("dev0", S_IFCHR | 0600, makedev(1, 3)), EEXIST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		MT_CASE(create_excl_on_existing_fails_eexist),
		MT_CASE(create_without_excl_opens_existing_and_keeps_data),
		MT_CASE(open_trunc_empties_file),
		MT_CASE(append_writes_at_end_regardless_of_offset),
		MT_CASE(append_from_threads_loses_no_record),
		MT_CASE(append_from_processes_loses_no_record),
		MT_CASE(open_missing_fails_enoent),
		MT_CASE(path_through_file_fails_enotdir),
		MT_CASE(write_open_of_directory_fails_eisdir),
		MT_CASE(unlinked_open_file_stays_usable),
		MT_CASE(mkfifo_makes_working_fifo),
		MT_CASE(bound_unix_socket_is_socket_node),
		MT_CASE(device_nodes_keep_type_and_rdev),
	};

	mt_base();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
