/*
 * mount_util.h - helpers shared by the mount test programs.
 *
 * The mount suites exercise a filesystem through the kernel, so they work
 * on any directory: the one named by MIXFS_TEST_DIR. Each cmocka case runs
 * in a fresh, empty working directory below it (see mt_case_setup), so a
 * case uses plain relative paths and leaves nothing behind.
 *
 * Also here: assertions that name the errno they got, running a check as an
 * unprivileged user in a child process, position-dependent data patterns,
 * and a wait for the filesystem's clock to move.
 *
 * Deliberately not here: anything that knows about mixfs. These helpers
 * only use POSIX and Linux calls, so the suites prove behaviour on tmpfs
 * (the reference) exactly as they do on a FUSE mount.
 */
#ifndef MIXFS_TESTS_MOUNT_UTIL_H
#define MIXFS_TESTS_MOUNT_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Unprivileged identities used by the permission tests. */
#define MT_UID1 12345
#define MT_GID1 12345
#define MT_UID2 12346
#define MT_GID2 12346

/*
 * The directory under test (MIXFS_TEST_DIR). Exits the program with a
 * message when the variable is unset or not a directory: a suite that ran
 * against the wrong place would prove nothing.
 */
const char *mt_base(void);

/*
 * cmocka setup and teardown. Setup makes <base>/<program>.<pid>.<n>/ with
 * a working directory "w" inside it (mode 0755), and chdirs into "w"; the
 * parent holds the clock probe of mt_tick so that the case sees only its
 * own entries. Teardown chdirs back to the base, resets the umask to 022,
 * and removes the whole case directory.
 */
int mt_case_setup(void **state);
int mt_case_teardown(void **state);
#define MT_CASE(fn) cmocka_unit_test_setup_teardown(fn, mt_case_setup, \
						    mt_case_teardown)

/* Absolute path of the current case's working directory. */
const char *mt_case_dir(void);

/* Remove @path and everything below it; 0 or a negative errno. */
int mt_rm_tree(const char *path);

/*
 * Wait until the filesystem's timestamps have visibly advanced: a later
 * change to any inode gets a ctime/mtime strictly greater than every
 * timestamp taken before this call. Adapts to the granularity of the
 * filesystem (nanoseconds on tmpfs, up to a second elsewhere).
 */
void mt_tick(void);

/* <0, 0, >0 as @a is before, equal to or after @b. */
int mt_ts_cmp(struct timespec a, struct timespec b);

/*
 * Run @fn(@arg) in a child process that has dropped to @uid/@gid (no
 * supplementary groups) and the current umask. The child reports a failed
 * check with mt_child_fail, which ends it; the calling case then fails with
 * the child's message. @uid 0 runs as root (useful for a second process
 * holding a lock).
 */
void mt_as_user(uid_t uid, gid_t gid, void (*fn)(void *arg), void *arg);

/* In a child of mt_as_user: record the message and exit(1). */
void mt_child_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* Wait for @pid and fail the case unless it exited 0. */
void mt_wait_ok(pid_t pid, const char *what);

/*
 * Data whose every byte depends on its absolute file offset and a seed,
 * so that a misplaced, missing or stale byte is detected wherever it is.
 * mt_pattern_check returns the index of the first byte of @buf that
 * differs from the pattern, or @len when all match.
 */
void mt_pattern(void *buf, size_t len, uint64_t off, uint32_t seed);
size_t mt_pattern_check(const void *buf, size_t len, uint64_t off,
			uint32_t seed);

/* Whole-buffer I/O that fails the case on error or short transfer. */
void mt_write_all(int fd, const void *buf, size_t len, const char *what);
void mt_pwrite_all(int fd, const void *buf, size_t len, off_t off,
		   const char *what);
void mt_pread_all(int fd, void *buf, size_t len, off_t off,
		  const char *what);

/* Create (or truncate) @path with @len bytes of @buf, mode 0644. */
void mt_write_file(const char *path, const void *buf, size_t len);

/* Read up to @cap bytes of @path; returns the count (fails on error). */
size_t mt_read_file(const char *path, void *buf, size_t cap);

/* lstat that fails the case when the call fails. */
struct stat mt_lstat(const char *path);

/* Name of an errno value ("ENOENT"), "0" for 0. */
const char *mt_errname(int e);

/*
 * Test assertions. CHECK_SYS evaluates to the call's result and fails the
 * case with the errno name when it is negative. CHECK_ERRNO expects the
 * call to fail (-1, or NULL for pointers cast to long) with exactly @e.
 */
#define CHECK(cond, ...)						\
	do {								\
		if (!(cond))						\
			fail_msg(__VA_ARGS__);				\
	} while (0)

#define CHECK_SYS(expr)							\
	({								\
		long mt_r_ = (long)(expr);				\
		if (mt_r_ < 0)						\
			fail_msg("%s failed: %s (%s)", #expr,		\
				 mt_errname(errno), strerror(errno));	\
		mt_r_;							\
	})

#define CHECK_ERRNO(expr, e)						\
	do {								\
		errno = 0;						\
		long mt_r_ = (long)(expr);				\
		int mt_e_ = errno;					\
		if (mt_r_ != -1 || mt_e_ != (e))			\
			fail_msg("%s: expected -1 with %s, got %ld "	\
				 "with %s", #expr, mt_errname(e),	\
				 mt_r_, mt_errname(mt_e_));		\
	} while (0)

/* As CHECK_ERRNO, accepting either of two errnos. */
#define CHECK_ERRNO2(expr, e1, e2)					\
	do {								\
		errno = 0;						\
		long mt_r_ = (long)(expr);				\
		int mt_e_ = errno;					\
		if (mt_r_ != -1 || (mt_e_ != (e1) && mt_e_ != (e2)))	\
			fail_msg("%s: expected -1 with %s or %s, got "	\
				 "%ld with %s", #expr, mt_errname(e1),	\
				 mt_errname(e2), mt_r_,			\
				 mt_errname(mt_e_));			\
	} while (0)

/* Child-side check for functions run by mt_as_user. */
#define CHILD_CHECK(cond, ...)						\
	do {								\
		if (!(cond))						\
			mt_child_fail(__VA_ARGS__);			\
	} while (0)

#define CHILD_ERRNO(expr, e)						\
	do {								\
		errno = 0;						\
		long mt_r_ = (long)(expr);				\
		int mt_e_ = errno;					\
		if (mt_r_ != -1 || mt_e_ != (e))			\
			mt_child_fail("%s as uid %d: expected -1 with "	\
				      "%s, got %ld with %s", #expr,	\
				      (int)getuid(), mt_errname(e),	\
				      mt_r_, mt_errname(mt_e_));	\
	} while (0)

#define CHILD_SYS(expr)							\
	({								\
		long mt_r_ = (long)(expr);				\
		if (mt_r_ < 0)						\
			mt_child_fail("%s as uid %d failed: %s", #expr,	\
				      (int)getuid(), mt_errname(errno));\
		mt_r_;							\
	})

#endif
