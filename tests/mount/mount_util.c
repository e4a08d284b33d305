/*
 * mount_util.c - helpers shared by the mount test programs (see
 * mount_util.h). Nothing here is specific to one filesystem.
 */
#include "mount_util.h"

#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static char case_top[PATH_MAX];	/* <base>/<prog>.<pid>.<n> */
static char case_dir[PATH_MAX + 8];	/* case_top/w, the working directory */
static unsigned case_count;

/* Shared with children of mt_as_user so that they can say what failed. */
static char *child_msg;
#define CHILD_MSG_SIZE 4096

const char *mt_base(void)
{
	static const char *base;
	struct stat st;

	if (base)
		return base;
	base = getenv("MIXFS_TEST_DIR");
	if (!base || !*base) {
		fprintf(stderr, "%s: set MIXFS_TEST_DIR to the directory to "
			"test (e.g. a mount point)\n",
			program_invocation_short_name);
		exit(2);
	}
	if (stat(base, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: MIXFS_TEST_DIR=%s is not a directory\n",
			program_invocation_short_name, base);
		exit(2);
	}
	return base;
}

const char *mt_case_dir(void)
{
	return case_dir;
}

int mt_case_setup(void **state)
{
	(void)state;
	snprintf(case_top, sizeof(case_top), "%s/%s.%d.%u", mt_base(),
		 program_invocation_short_name, (int)getpid(), ++case_count);
	snprintf(case_dir, sizeof(case_dir), "%s/w", case_top);
	umask(022);
	if (mkdir(case_top, 0755) < 0 || mkdir(case_dir, 0755) < 0 ||
	    chdir(case_dir) < 0) {
		fprintf(stderr, "cannot make case directory %s: %s\n",
			case_dir, strerror(errno));
		return -1;
	}
	/* mkdir applied the umask; make the mode exact for every filesystem. */
	chmod(case_dir, 0755);
	return 0;
}

int mt_case_teardown(void **state)
{
	int r;

	(void)state;
	umask(022);
	if (chdir(mt_base()) < 0)
		return -1;
	r = mt_rm_tree(case_top);
	if (r < 0) {
		fprintf(stderr, "cannot remove %s: %s\n", case_top,
			strerror(-r));
		return -1;
	}
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 ? -errno : 0;
	return unlink(path) < 0 ? -errno : 0;
}

int mt_rm_tree(const char *path)
{
	int r = nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);

	if (r == -1)
		return errno == ENOENT ? 0 : -errno;
	return r;
}

int mt_ts_cmp(struct timespec a, struct timespec b)
{
	if (a.tv_sec != b.tv_sec)
		return a.tv_sec < b.tv_sec ? -1 : 1;
	if (a.tv_nsec != b.tv_nsec)
		return a.tv_nsec < b.tv_nsec ? -1 : 1;
	return 0;
}

void mt_tick(void)
{
	char probe[PATH_MAX + 8];
	struct stat st0, st;
	int fd, i;

	snprintf(probe, sizeof(probe), "%s/.tick", case_top);
	fd = open(probe, O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		fail_msg("clock probe %s: %s", probe, mt_errname(errno));
	close(fd);
	if (chmod(probe, 0644) < 0 || stat(probe, &st0) < 0)
		fail_msg("clock probe %s: %s", probe, mt_errname(errno));
	for (i = 0; i < 300; i++) {
		usleep(i < 10 ? 2000 : 10000);
		if (chmod(probe, (i & 1) ? 0644 : 0600) < 0 ||
		    stat(probe, &st) < 0)
			fail_msg("clock probe %s: %s", probe,
				 mt_errname(errno));
		if (mt_ts_cmp(st.st_ctim, st0.st_ctim) > 0)
			return;
	}
	fail_msg("the ctime of %s did not advance within 3 s of changes",
		 probe);
}

void mt_child_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (child_msg)
		vsnprintf(child_msg, CHILD_MSG_SIZE, fmt, ap);
	va_end(ap);
	_exit(1);
}

void mt_wait_ok(pid_t pid, const char *what)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		fail_msg("waitpid for %s: %s", what, mt_errname(errno));
	if (WIFSIGNALED(status))
		fail_msg("%s: killed by signal %d", what, WTERMSIG(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("%s: %s", what, child_msg && *child_msg ? child_msg
			 : "exited with non-zero status");
}

void mt_as_user(uid_t uid, gid_t gid, void (*fn)(void *arg), void *arg)
{
	char what[64];
	pid_t pid;

	if (!child_msg) {
		child_msg = mmap(NULL, CHILD_MSG_SIZE, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (child_msg == MAP_FAILED) {
			child_msg = NULL;
			fail_msg("mmap: %s", mt_errname(errno));
		}
	}
	child_msg[0] = '\0';
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", mt_errname(errno));
	if (pid == 0) {
		if (uid != 0 &&
		    (setgroups(0, NULL) < 0 || setgid(gid) < 0 ||
		     setuid(uid) < 0))
			mt_child_fail("cannot become uid %d gid %d: %s",
				      (int)uid, (int)gid, mt_errname(errno));
		fn(arg);
		_exit(0);
	}
	snprintf(what, sizeof(what), "child as uid %d", (int)uid);
	mt_wait_ok(pid, what);
}

static inline uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline uint8_t pattern_byte(uint64_t pos, uint32_t seed)
{
	return (uint8_t)(mix64(((uint64_t)seed << 40) ^ (pos >> 3)) >>
			 ((pos & 7) * 8));
}

void mt_pattern(void *buf, size_t len, uint64_t off, uint32_t seed)
{
	uint8_t *p = buf;
	size_t i = 0;

	/* Word at a time in the middle: the 64 MiB test would crawl
	 * byte by byte under the sanitizers. */
	while (i < len && ((off + i) & 7))
		p[i] = pattern_byte(off + i, seed), i++;
	for (; i + 8 <= len; i += 8) {
		uint64_t w = mix64(((uint64_t)seed << 40) ^ ((off + i) >> 3));

		memcpy(p + i, &w, 8);
	}
	for (; i < len; i++)
		p[i] = pattern_byte(off + i, seed);
}

size_t mt_pattern_check(const void *buf, size_t len, uint64_t off,
			uint32_t seed)
{
	const uint8_t *p = buf;
	uint8_t tmp[4096];
	size_t done, i, n;

	for (done = 0; done < len; done += n) {
		n = len - done < sizeof(tmp) ? len - done : sizeof(tmp);
		mt_pattern(tmp, n, off + done, seed);
		if (memcmp(tmp, p + done, n) == 0)
			continue;
		for (i = 0; i < n; i++)
			if (tmp[i] != p[done + i])
				return done + i;
	}
	return len;
}

void mt_write_all(int fd, const void *buf, size_t len, const char *what)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail_msg("write to %s: %s", what,
				 n < 0 ? mt_errname(errno) : "wrote 0 bytes");
		p += n;
		len -= n;
	}
}

void mt_pwrite_all(int fd, const void *buf, size_t len, off_t off,
		   const char *what)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail_msg("pwrite to %s at %lld: %s", what,
				 (long long)off,
				 n < 0 ? mt_errname(errno) : "wrote 0 bytes");
		p += n;
		len -= n;
		off += n;
	}
}

void mt_pread_all(int fd, void *buf, size_t len, off_t off, const char *what)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail_msg("pread of %s at %lld: %s", what,
				 (long long)off,
				 n < 0 ? mt_errname(errno) : "unexpected EOF");
		p += n;
		len -= n;
		off += n;
	}
}

void mt_write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		fail_msg("create %s: %s", path, mt_errname(errno));
	mt_write_all(fd, buf, len, path);
	if (close(fd) < 0)
		fail_msg("close %s: %s", path, mt_errname(errno));
}

size_t mt_read_file(const char *path, void *buf, size_t cap)
{
	size_t got = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		fail_msg("open %s: %s", path, mt_errname(errno));
	while (got < cap) {
		ssize_t n = read(fd, (char *)buf + got, cap - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail_msg("read %s: %s", path, mt_errname(errno));
		if (n == 0)
			break;
		got += n;
	}
	close(fd);
	return got;
}

struct stat mt_lstat(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		fail_msg("lstat %s: %s", path, mt_errname(errno));
	return st;
}

const char *mt_errname(int e)
{
	const char *n;

	if (e == 0)
		return "0";
	n = strerrorname_np(e);
	return n ? n : "unknown errno";
}
