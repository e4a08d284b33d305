/*
 * test_posix_locks.c - file locks through the mount: POSIX record locks
 * (fcntl F_SETLK/F_SETLKW/F_GETLK) between processes, flock between open
 * files, and open-file-description locks (F_OFD_SETLK).
 *
 * Run against any directory:
 *
 *   MIXFS_TEST_DIR=/mnt/x CMOCKA_MESSAGE_OUTPUT=TAP ./test_posix_locks
 *
 * Each case works in a fresh subdirectory of MIXFS_TEST_DIR and removes
 * it afterwards. Mandatory locking and leases are not tested.
 */
#include "mount_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = {
		.l_type = type, .l_whence = SEEK_SET,
		.l_start = start, .l_len = len,
	};

	return fcntl(fd, cmd, &fl);
}

static void child_posix_conflicts(void *arg)
{
	pid_t holder = *(pid_t *)arg;
	struct flock fl = {
		.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0,
		.l_len = 10,
	};
	int fd = CHILD_SYS(open("f", O_RDWR));

	errno = 0;
	CHILD_CHECK(setlk(fd, F_SETLK, F_WRLCK, 50, 10) == -1 &&
		    (errno == EAGAIN || errno == EACCES),
		    "write lock over another process's write lock: %s",
		    mt_errname(errno));
	errno = 0;
	CHILD_CHECK(setlk(fd, F_SETLK, F_RDLCK, 99, 1) == -1 &&
		    (errno == EAGAIN || errno == EACCES),
		    "read lock over a write lock: %s", mt_errname(errno));
	CHILD_SYS(setlk(fd, F_SETLK, F_WRLCK, 100, 100));
	CHILD_SYS(fcntl(fd, F_GETLK, &fl));
	CHILD_CHECK(fl.l_type == F_WRLCK && fl.l_pid == holder &&
		    fl.l_start == 0 && fl.l_len == 100,
		    "F_GETLK reports type %d pid %d range %lld+%lld, "
		    "expected the holder %d on 0+100", fl.l_type,
		    (int)fl.l_pid, (long long)fl.l_start,
		    (long long)fl.l_len, (int)holder);
	close(fd);
}

static void child_posix_shared(void *arg)
{
	int fd = CHILD_SYS(open("f", O_RDWR));

	(void)arg;
	CHILD_SYS(setlk(fd, F_SETLK, F_RDLCK, 0, 100));
	errno = 0;
	CHILD_CHECK(setlk(fd, F_SETLK, F_WRLCK, 0, 1) == -1 &&
		    (errno == EAGAIN || errno == EACCES),
		    "write lock over a read lock: %s", mt_errname(errno));
	close(fd);
}

static void child_posix_free(void *arg)
{
	int fd = CHILD_SYS(open("f", O_RDWR));

	(void)arg;
	CHILD_SYS(setlk(fd, F_SETLK, F_WRLCK, 0, 0));
	close(fd);
}

static void fcntl_locks_conflict_between_processes(void **state)
{
	pid_t me = getpid();
	int fd, fd2;

	(void)state;
	mt_write_file("f", "0123456789", 10);
	fd = CHECK_SYS(open("f", O_RDWR));
	CHECK_SYS(setlk(fd, F_SETLK, F_WRLCK, 0, 100));
	mt_as_user(0, 0, child_posix_conflicts, &me);
	/* Read locks are shared. */
	CHECK_SYS(setlk(fd, F_SETLK, F_RDLCK, 0, 100));
	mt_as_user(0, 0, child_posix_shared, NULL);
	CHECK_SYS(setlk(fd, F_SETLK, F_UNLCK, 0, 100));
	mt_as_user(0, 0, child_posix_free, NULL);
	/* Closing any descriptor of the file drops the process's locks. */
	CHECK_SYS(setlk(fd, F_SETLK, F_WRLCK, 0, 0));
	fd2 = CHECK_SYS(open("f", O_RDONLY));
	close(fd2);
	mt_as_user(0, 0, child_posix_free, NULL);
	close(fd);
}

static void fcntl_setlkw_waits_for_release(void **state)
{
	struct timespec t0, t1;
	pid_t pid;
	int fd, status;
	long ms;

	(void)state;
	mt_write_file("f", "", 0);
	fd = CHECK_SYS(open("f", O_RDWR));
	CHECK_SYS(setlk(fd, F_SETLK, F_WRLCK, 0, 0));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int cfd = open("f", O_RDWR);

		_exit(cfd >= 0 && setlk(cfd, F_SETLKW, F_WRLCK, 0, 0) == 0 ?
		      0 : 1);
	}
	CHECK(pid > 0, "fork: %s", mt_errname(errno));
	usleep(200000);
	CHECK(waitpid(pid, &status, WNOHANG) == 0,
	      "F_SETLKW returned while the lock was held");
	CHECK_SYS(setlk(fd, F_SETLK, F_UNLCK, 0, 0));
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0, "F_SETLKW failed after the release");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms >= 190, "waiter finished after %ld ms, before the release",
	      ms);
	close(fd);
}

static void child_flock(void *arg)
{
	int fd = CHILD_SYS(open("f", O_RDONLY));

	(void)arg;
	CHILD_ERRNO(flock(fd, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	close(fd);
}

static void flock_conflicts_between_open_files(void **state)
{
	int fd1, fd2;

	(void)state;
	mt_write_file("f", "", 0);
	fd1 = CHECK_SYS(open("f", O_RDONLY));
	fd2 = CHECK_SYS(open("f", O_RDONLY));
	CHECK_SYS(flock(fd1, LOCK_EX));
	/* flock locks belong to the open file, even within one process. */
	CHECK_ERRNO(flock(fd2, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	CHECK_ERRNO(flock(fd2, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	mt_as_user(0, 0, child_flock, NULL);
	CHECK_SYS(flock(fd1, LOCK_SH));	/* downgrade */
	CHECK_SYS(flock(fd2, LOCK_SH | LOCK_NB));
	mt_as_user(0, 0, child_flock, NULL);
	CHECK_SYS(flock(fd1, LOCK_UN));
	CHECK_ERRNO(flock(fd1, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	CHECK_SYS(flock(fd2, LOCK_UN));
	CHECK_SYS(flock(fd1, LOCK_EX | LOCK_NB));
	close(fd1);	/* closing the last descriptor releases it */
	CHECK_SYS(flock(fd2, LOCK_EX | LOCK_NB));
	close(fd2);
}

static void child_ofd(void *arg)
{
	int fd = CHILD_SYS(open("f", O_RDWR));

	(void)arg;
	errno = 0;
	CHILD_CHECK(setlk(fd, F_SETLK, F_WRLCK, 5, 1) == -1 &&
		    (errno == EAGAIN || errno == EACCES),
		    "POSIX lock over an OFD lock: %s", mt_errname(errno));
	close(fd);
}

static void ofd_locks_conflict_between_open_files(void **state)
{
	struct flock fl = {
		.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0,
		.l_len = 1,
	};
	int fd1, fd2, dup1;

	(void)state;
	mt_write_file("f", "0123456789", 10);
	fd1 = CHECK_SYS(open("f", O_RDWR));
	fd2 = CHECK_SYS(open("f", O_RDWR));
	CHECK_SYS(setlk(fd1, F_OFD_SETLK, F_WRLCK, 0, 10));
	CHECK_ERRNO(setlk(fd2, F_OFD_SETLK, F_WRLCK, 5, 1), EAGAIN);
	CHECK_ERRNO(setlk(fd2, F_OFD_SETLK, F_RDLCK, 9, 5), EAGAIN);
	CHECK_SYS(setlk(fd2, F_OFD_SETLK, F_WRLCK, 10, 5));
	CHECK_SYS(fcntl(fd2, F_OFD_GETLK, &fl));
	CHECK(fl.l_type == F_WRLCK && fl.l_pid == -1 && fl.l_start == 0 &&
	      fl.l_len == 10, "F_OFD_GETLK reports type %d pid %d range "
	      "%lld+%lld", fl.l_type, (int)fl.l_pid, (long long)fl.l_start,
	      (long long)fl.l_len);
	mt_as_user(0, 0, child_ofd, NULL);
	/* A dup shares the open file; closing it keeps the lock. */
	dup1 = CHECK_SYS(dup(fd1));
	close(dup1);
	CHECK_ERRNO(setlk(fd2, F_OFD_SETLK, F_WRLCK, 0, 1), EAGAIN);
	close(fd1);
	CHECK_SYS(setlk(fd2, F_OFD_SETLK, F_WRLCK, 0, 1));
	close(fd2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		MT_CASE(fcntl_locks_conflict_between_processes),
		MT_CASE(fcntl_setlkw_waits_for_release),
		MT_CASE(flock_conflicts_between_open_files),
		MT_CASE(ofd_locks_conflict_between_open_files),
	};

	mt_base();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
