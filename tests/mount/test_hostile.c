/*
 * test_hostile.c - what a careless or hostile program may throw at a
 * filesystem: names made of every byte but '/' and NUL (and of invalid
 * UTF-8), names at and past 255 bytes, paths at and past PATH_MAX and
 * trees deeper than any path can name, symlink loops, threads racing
 * RENAME_EXCHANGE, rename, rmdir, create, link and unlink in the same
 * directories, opens racing a rename that replaces the name, offsets at and past 2^63 - 1 and negative ones, O_DIRECT
 * and mmap on one file, and a file at the largest size the filesystem
 * allows.
 *
 * Run against any directory:
 *
 *   MIXFS_TEST_DIR=/mnt/x CMOCKA_MESSAGE_OUTPUT=TAP ./test_hostile
 *
 * The race runs for 2 s (30 s with MIXFS_LONG=1; MIXFS_RACE_SECONDS=n
 * sets it) from a seed printed first (MIXFS_SEED sets it). Which
 * operations win a race is up to the scheduler, so a run is repeatable
 * only in the operations each thread tries, not in their outcome; the
 * check afterwards holds for every outcome.
 *
 * Where filesystems may differ, the test says what it allows and why:
 * the largest file size is the filesystem's own (tmpfs allows 2^63 - 1,
 * other filesystems less), so that case finds it and checks the edges
 * around it. Not here: names and deep trees of ordinary sizes (those are
 * in test_posix_names), the semantics of one rename at a time (in
 * test_posix_rename).
 */
#include "mount_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* --- names -------------------------------------------------------------- */

/*
 * Every name readdir of @dir returns (but "." and ".."), with its d_ino
 * and d_type; fails the case on an error. The caller frees with
 * free_names.
 */
struct listed {
	char name[256];
	ino_t ino;
	unsigned char type;
};

static struct listed *list_dir(int dirfd, size_t *count)
{
	struct listed *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int fd = CHECK_SYS(openat(dirfd, ".", O_RDONLY | O_DIRECTORY));
	DIR *d = fdopendir(fd);

	if (!d)
		fail_msg("fdopendir: %s", mt_errname(errno));
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = realloc(v, cap * sizeof(*v));
			if (!v)
				fail_msg("out of memory");
		}
		snprintf(v[n].name, sizeof(v[n].name), "%s", de->d_name);
		v[n].ino = de->d_ino;
		v[n].type = de->d_type;
		n++;
	}
	if (errno)
		fail_msg("readdir: %s", mt_errname(errno));
	closedir(d);
	*count = n;
	return v;
}

/* Printable form of a name for failure messages (bytes as \xNN). */
static const char *shown(const char *name)
{
	static char buf[4 * 256 + 1];
	char *p = buf;

	for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
		if (*s > ' ' && *s < 0x7f && *s != '\\')
			*p++ = (char)*s;
		else
			p += sprintf(p, "\\x%02x", *s);
	}
	*p = '\0';
	return buf;
}

/* The names of the byte-value case: one per byte, and mixes. */
static size_t byte_names(char (*names)[256])
{
	static const char *const bad_utf8[] = {
		"\x80\x80", "\xbf\xbf", "\xc0\x80", "\xc1\xbf", "\xe2\x82",
		"\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80",
		"\xf8\x88\x80\x80\x80", "\xfe\xff", "\xff\xfe\xfd",
		"caf\xe9", "\xef\xbb\xbf", "a\xcc\x81", "\xe2\x80\xae" "txt",
	};
	size_t n = 0;

	for (int b = 1; b < 256; b++) {
		if (b == '/')
			continue;
		/* "." names the directory itself; its own byte goes in "..."
		 * and in the mixes below. */
		if (b == '.')
			snprintf(names[n++], 256, "...");
		else
			snprintf(names[n++], 256, "%c", b);
		snprintf(names[n++], 256, "x%cy%c", b, b);
	}
	/* Every byte but '/' in one name, in order and reversed (254
	 * bytes), and names that are only blanks, dots and newlines. */
	for (int k = 0; k < 2; k++) {
		char *p = names[n++];

		for (int b = 1; b < 256; b++) {
			int c = k ? 256 - b : b;

			if (c != '/')
				*p++ = (char)c;
		}
		*p = '\0';
	}
	snprintf(names[n++], 256, "  ");
	snprintf(names[n++], 256, "   ");
	snprintf(names[n++], 256, "....");
	snprintf(names[n++], 256, "\n\n");
	snprintf(names[n++], 256, ". .");
	snprintf(names[n++], 256, "-rf");
	snprintf(names[n++], 256, "*?[a]");
	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++)
		snprintf(names[n++], 256, "%s", bad_utf8[i]);
	return n;
}

static void every_byte_but_slash_and_nul_names_a_file(void **state)
{
	static char names[600][256], renamed[256];
	struct listed *l;
	size_t n = byte_names(names), count, i, k;
	char buf[300];
	int fd;

	(void)state;
	for (i = 0; i < n; i++) {
		fd = open(names[i], O_CREAT | O_EXCL | O_WRONLY, 0644);
		CHECK(fd >= 0, "create of name '%s' (%zu bytes): %s",
		      shown(names[i]), strlen(names[i]), mt_errname(errno));
		mt_write_all(fd, names[i], strlen(names[i]), names[i]);
		close(fd);
	}
	/* readdir returns every name exactly once, each of which lookup
	 * finds with the same inode. */
	l = list_dir(AT_FDCWD, &count);
	CHECK(count == n, "readdir returned %zu names, %zu were made",
	      count, n);
	for (i = 0; i < n; i++) {
		size_t seen = 0;
		struct stat st;

		for (k = 0; k < count; k++)
			if (!strcmp(l[k].name, names[i])) {
				seen++;
				CHECK(lstat(names[i], &st) == 0 &&
				      st.st_ino == l[k].ino,
				      "name '%s': readdir says inode %lu, "
				      "lookup %s", shown(names[i]),
				      (unsigned long)l[k].ino,
				      mt_errname(errno));
				CHECK(l[k].type == DT_REG ||
				      l[k].type == DT_UNKNOWN,
				      "name '%s' has d_type %d",
				      shown(names[i]), l[k].type);
			}
		CHECK(seen == 1, "readdir returned name '%s' %zu times",
		      shown(names[i]), seen);
		CHECK(mt_read_file(names[i], buf, sizeof(buf)) ==
		      strlen(names[i]) &&
		      !memcmp(buf, names[i], strlen(names[i])),
		      "contents of '%s' are not its name", shown(names[i]));
	}
	free(l);
	/* Renames to and from such names, a hard link and a symlink whose
	 * target holds every byte, then everything goes away. */
	for (i = 0; i < n; i++) {
		snprintf(renamed, sizeof(renamed), "%.250s\x01\xff", names[i]);
		CHECK(rename(names[i], renamed) == 0,
		      "rename '%s' -> +\\x01\\xff: %s", shown(names[i]),
		      mt_errname(errno));
		if (i % 4) {	/* a quarter go back by link and unlink */
			CHECK_SYS(rename(renamed, names[i]));
			continue;
		}
		CHECK(link(renamed, names[i]) == 0, "link to '%s': %s",
		      shown(names[i]), mt_errname(errno));
		CHECK(mt_lstat(names[i]).st_nlink == 2,
		      "'%s' has nlink %lu after a link", shown(names[i]),
		      (unsigned long)mt_lstat(names[i]).st_nlink);
		CHECK_SYS(unlink(renamed));
	}
	{
		char target[300], got[300];
		ssize_t len;

		for (k = 0; k < 255; k++)
			target[k] = (char)(k + 1);
		target[255] = '\0';
		CHECK_SYS(symlink(target, "\x7f\x01link"));
		len = readlink("\x7f\x01link", got, sizeof(got));
		CHECK(len == 255 && !memcmp(got, target, 255),
		      "readlink of a target of bytes 1..255 gave %zd bytes",
		      len);
		CHECK_SYS(unlink("\x7f\x01link"));
	}
	for (i = 0; i < n; i++)
		CHECK(unlink(names[i]) == 0, "unlink of '%s': %s",
		      shown(names[i]), mt_errname(errno));
	l = list_dir(AT_FDCWD, &count);
	free(l);
	CHECK(count == 0, "%zu names left after unlinking all of them",
	      count);
}

static void names_of_255_bytes_of_any_byte_work_256_fail(void **state)
{
	char n255[3][256], n256[257];
	struct stat st;
	int fd;

	(void)state;
	memset(n255[0], 0xff, 255);
	for (int i = 0; i < 255; i++) {
		int b = 1 + (i * 7) % 255;

		n255[1][i] = (char)(b == '/' ? '.' : b);
		n255[2][i] = i % 2 ? '\n' : '\x80';
	}
	for (int i = 0; i < 3; i++)
		n255[i][255] = '\0';
	memset(n256, 0xfe, 256);
	n256[256] = '\0';

	fd = CHECK_SYS(open(n255[0], O_CREAT | O_EXCL | O_RDWR, 0600));
	close(fd);
	CHECK_SYS(mkdir(n255[1], 0755));
	CHECK_SYS(mkfifo(n255[2], 0600));
	CHECK(S_ISFIFO(mt_lstat(n255[2]).st_mode), "255-byte FIFO");
	CHECK_SYS(unlink(n255[2]));
	CHECK_SYS(symlink(n255[0], n255[2]));
	CHECK_SYS(stat(n255[2], &st));
	CHECK(S_ISREG(st.st_mode), "a link to a 255-byte name does not "
	      "reach the file");
	CHECK_SYS(unlink(n255[2]));
	/* A 255-byte name inside a 255-byte directory. */
	{
		char path[600];

		snprintf(path, sizeof(path), "%s/%s", n255[1], n255[0]);
		CHECK_SYS(link(n255[0], path));
		CHECK(mt_lstat(n255[0]).st_nlink == 2, "nlink after link");
		CHECK_SYS(renameat2(AT_FDCWD, path, AT_FDCWD, n255[2], 0));
		CHECK_SYS(unlink(n255[2]));
	}
	CHECK_ERRNO(open(n256, O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
	CHECK_ERRNO(open(n256, O_RDONLY), ENAMETOOLONG);
	CHECK_ERRNO(mkdir(n256, 0755), ENAMETOOLONG);
	CHECK_ERRNO(mkfifo(n256, 0644), ENAMETOOLONG);
	CHECK_ERRNO(symlink("x", n256), ENAMETOOLONG);
	CHECK_ERRNO(link(n255[0], n256), ENAMETOOLONG);
	CHECK_ERRNO(rename(n255[0], n256), ENAMETOOLONG);
	CHECK_ERRNO(rename(n256, n255[2]), ENAMETOOLONG);
	CHECK_ERRNO(renameat2(AT_FDCWD, n255[0], AT_FDCWD, n256,
			      RENAME_EXCHANGE), ENAMETOOLONG);
	CHECK_ERRNO(unlink(n256), ENAMETOOLONG);
	CHECK_ERRNO(rmdir(n256), ENAMETOOLONG);
	CHECK_ERRNO(lstat(n256, &st), ENAMETOOLONG);
	CHECK_ERRNO(truncate(n256, 0), ENAMETOOLONG);
	CHECK_ERRNO(chmod(n256, 0600), ENAMETOOLONG);
	/* Nothing was made or lost by the refused calls. */
	{
		size_t count;
		struct listed *l = list_dir(AT_FDCWD, &count);

		free(l);
		CHECK(count == 2, "%zu names after the refused calls, "
		      "expected 2", count);
	}
	CHECK_SYS(unlink(n255[0]));
	CHECK_SYS(rmdir(n255[1]));
}

/* --- paths -------------------------------------------------------------- */

#define DEEP_ABOVE 15	/* 255-byte levels a 4095-byte path can name */
#define DEEP_BELOW 20	/* more levels, reached only through openat */

static void paths_to_path_max_and_trees_deeper_than_it(void **state)
{
	static char comp[256], fname[256], path[PATH_MAX + 16], name2[256];
	int fds[DEEP_ABOVE + DEEP_BELOW + 1];
	int depth = DEEP_ABOVE + DEEP_BELOW, fd, cwd;
	struct stat st, top;
	char buf[16];
	size_t len = 0;
	long r;

	(void)state;
	memset(comp, 'd', 255);
	memset(name2, 'e', 255);
	memset(fname, 'f', 255);
	for (int i = 0; i < DEEP_ABOVE; i++) {
		memcpy(path + len, comp, 255);
		len += 255;
		path[len] = '\0';
		CHECK_SYS(mkdir(path, 0755));
		path[len++] = '/';
	}
	/* 15 * 256 + 255 = 4095 bytes: the longest path a call takes. */
	memcpy(path + len, fname, 255);
	len += 255;
	path[len] = '\0';
	CHECK(len == PATH_MAX - 1, "built a %zu-byte path", len);
	mt_write_file(path, "edge", 4);
	CHECK(mt_read_file(path, buf, sizeof(buf)) == 4 &&
	      !memcmp(buf, "edge", 4), "a file by a 4095-byte path did not "
	      "read back");
	CHECK_SYS(truncate(path, 2));
	CHECK(mt_lstat(path).st_size == 2, "truncate by a 4095-byte path");
	/* One more byte (a doubled slash names the same file). */
	memmove(path + 1 + 256, path + 256, len - 256 + 1);
	path[256] = '/';
	CHECK_ERRNO(stat(path, &st), ENAMETOOLONG);
	CHECK_ERRNO(open(path, O_RDONLY), ENAMETOOLONG);
	CHECK_ERRNO(unlink(path), ENAMETOOLONG);

	/* Below that, only descriptors reach. */
	fds[0] = CHECK_SYS(open(".", O_RDONLY | O_DIRECTORY));
	CHECK_SYS(fstat(fds[0], &top));
	for (int i = 1; i <= depth; i++) {
		if (i > DEEP_ABOVE)
			CHECK(mkdirat(fds[i - 1], comp, 0755) == 0,
			      "mkdirat at depth %d: %s", i, mt_errname(errno));
		fds[i] = openat(fds[i - 1], comp, O_RDONLY | O_DIRECTORY);
		CHECK(fds[i] >= 0, "openat at depth %d: %s", i,
		      mt_errname(errno));
	}
	fd = CHECK_SYS(openat(fds[depth], "leaf", O_CREAT | O_EXCL | O_RDWR,
			      0644));
	mt_write_all(fd, "bottom", 6, "leaf");
	close(fd);
	cwd = CHECK_SYS(open(".", O_RDONLY | O_DIRECTORY));
	CHECK_SYS(fchdir(fds[depth]));
	/* The kernel cannot name this directory in one page. */
	r = syscall(SYS_getcwd, path, sizeof(path));
	CHECK(r == -1 && errno == ENAMETOOLONG, "getcwd %d levels of 256 "
	      "bytes down returned %ld (%s), expected ENAMETOOLONG", depth,
	      r, r < 0 ? mt_errname(errno) : "no error");
	/* Rename the top of the chain while we sit at its bottom. */
	CHECK_SYS(renameat(cwd, comp, cwd, name2));
	CHECK(mt_read_file("leaf", buf, sizeof(buf)) == 6 &&
	      !memcmp(buf, "bottom", 6), "the deepest file did not read "
	      "back after its top directory was renamed");
	path[0] = '\0';
	for (int i = 0; i < depth; i++)
		strcat(path, "../");
	CHECK_SYS(stat(path, &st));
	CHECK(st.st_ino == top.st_ino && st.st_dev == top.st_dev,
	      "%d '..' steps up from the bottom did not lead to the top",
	      depth);
	CHECK_SYS(fchdir(cwd));
	close(cwd);
	/* nftw cannot remove what no path names: unwind by descriptor. */
	CHECK_SYS(unlinkat(fds[depth], "leaf", 0));
	for (int i = depth; i >= 1; i--) {
		if (i == DEEP_ABOVE)	/* also holds the 4095-byte path */
			CHECK_SYS(unlinkat(fds[i], fname, 0));
		close(fds[i]);
		CHECK(unlinkat(fds[i - 1], i == 1 ? name2 : comp,
			       AT_REMOVEDIR) == 0,
		      "rmdir at depth %d: %s", i, mt_errname(errno));
	}
	close(fds[0]);
}

/* --- symlink loops ------------------------------------------------------ */

static void symlink_loops_end_in_eloop_chains_of_40_resolve(void **state)
{
	char name[16], target[16], got[64];
	struct stat st;
	int fd;

	(void)state;
	CHECK_SYS(mkdir("d", 0755));
	mt_write_file("d/file", "x", 1);
	/* A loop in a middle component, and one through "..". */
	CHECK_SYS(symlink("loop", "loop"));
	CHECK_SYS(symlink("../d/up", "d/up"));
	CHECK_ERRNO(stat("loop/file", &st), ELOOP);
	CHECK_ERRNO(stat("d/up/file", &st), ELOOP);
	CHECK_ERRNO(open("loop/", O_RDONLY), ELOOP);
	CHECK_ERRNO(mkdir("loop/sub", 0755), ELOOP);
	CHECK_ERRNO(rename("d/file", "loop/file"), ELOOP);
	CHECK_ERRNO(chdir("d/up"), ELOOP);
	CHECK_ERRNO(truncate("loop", 0), ELOOP);
	CHECK_ERRNO(realpath("d/up", NULL) ? 0 : -1, ELOOP);
	/* The loop itself is an ordinary object for calls that do not
	 * follow it. */
	fd = CHECK_SYS(open("loop", O_PATH | O_NOFOLLOW));
	CHECK_SYS(fstatat(fd, "", &st, AT_EMPTY_PATH));
	CHECK(S_ISLNK(st.st_mode), "O_PATH|O_NOFOLLOW of a loop is not a "
	      "link");
	close(fd);
	CHECK(readlink("loop", got, sizeof(got)) == 4, "readlink of a loop");
	CHECK_SYS(rename("loop", "loop2"));
	CHECK_ERRNO(stat("loop2", &st), ENOENT);	/* points at "loop" */
	CHECK_SYS(link("loop2", "loop"));
	CHECK_ERRNO(stat("loop2", &st), ELOOP);
	CHECK(mt_lstat("loop").st_nlink == 2, "hard link of a symlink");
	/* Linux follows at most 40 links in one lookup. */
	for (int i = 1; i <= 41; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		snprintf(target, sizeof(target), i == 1 ? "d/file" : "c%d",
			 i - 1);
		CHECK_SYS(symlink(target, name));
	}
	CHECK_SYS(stat("c40", &st));
	CHECK(S_ISREG(st.st_mode), "a chain of 40 links is not the file");
	CHECK_ERRNO(stat("c41", &st), ELOOP);
	CHECK_ERRNO(open("c41", O_RDONLY), ELOOP);
	CHECK_SYS(unlink("loop"));
	CHECK_SYS(unlink("loop2"));
	CHECK_SYS(unlink("d/up"));
}

/* --- the race ----------------------------------------------------------- */

#define RACE_THREADS 8
#define RACE_DIRS 3
#define RACE_NAMES 4

struct race {
	uint64_t seed;
	volatile int stop;
	/* Successful calls that add or remove names, summed by all. */
	long creates, symlinks, links, unlinks, mkdirs, rmdirs;
	long exchanges, renames, ops;
	/* The first unexpected error: the call, its path and the errno. */
	pthread_mutex_t lock;
	char bad[256];
};

struct racer {
	struct race *race;
	unsigned id;
};

static uint64_t next_rand(uint64_t *s)
{
	uint64_t x = (*s += 0x9e3779b97f4a7c15ull);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* A path of depth 2 or 3: "rD/a" or "rD/a/b". */
static void race_path(uint64_t *s, char *p)
{
	uint64_t r = next_rand(s);

	if (r & 1)
		sprintf(p, "r%u/%c", (unsigned)(r >> 1) % RACE_DIRS,
			'a' + (int)((r >> 8) % RACE_NAMES));
	else
		sprintf(p, "r%u/%c/%c", (unsigned)(r >> 1) % RACE_DIRS,
			'a' + (int)((r >> 8) % RACE_NAMES),
			'a' + (int)((r >> 16) % RACE_NAMES));
}

/* Errors a racing call may get from a correct filesystem. */
static int race_expected(int e)
{
	return e == ENOENT || e == EEXIST || e == ENOTEMPTY || e == ENOTDIR ||
	       e == EISDIR || e == EINVAL || e == EPERM || e == EBUSY;
}

static void race_note(struct race *r, const char *op, const char *a,
		      const char *b, int e)
{
	pthread_mutex_lock(&r->lock);
	if (!r->bad[0])
		snprintf(r->bad, sizeof(r->bad), "%s(%s%s%s) failed with %s",
			 op, a, b ? ", " : "", b ? b : "", mt_errname(e));
	pthread_mutex_unlock(&r->lock);
}

#define RACE_COUNT(r, field) __atomic_fetch_add(&(r)->field, 1, \
						__ATOMIC_RELAXED)

static void *racer_main(void *arg)
{
	struct racer *me = arg;
	struct race *r = me->race;
	uint64_t s = r->seed * 1000003 + me->id;
	char a[32], b[32];
	struct stat st;
	int ret, fd;

	while (!r->stop) {
		unsigned op = (unsigned)(next_rand(&s) % 100);
		const char *name = NULL;
		bool two = false;

		race_path(&s, a);
		race_path(&s, b);
		errno = 0;
		if (op < 20) {
			name = "renameat2 EXCHANGE";
			two = true;
			ret = renameat2(AT_FDCWD, a, AT_FDCWD, b,
					RENAME_EXCHANGE);
			if (!ret)
				RACE_COUNT(r, exchanges);
		} else if (op < 30) {
			name = "renameat2 NOREPLACE";
			two = true;
			ret = renameat2(AT_FDCWD, a, AT_FDCWD, b,
					RENAME_NOREPLACE);
			if (!ret)
				RACE_COUNT(r, renames);
		} else if (op < 42) {
			name = "create";
			fd = open(a, O_CREAT | O_EXCL | O_WRONLY, 0644);
			ret = fd < 0 ? -1 : 0;
			if (fd >= 0) {
				RACE_COUNT(r, creates);
				close(fd);
			}
		} else if (op < 47) {
			name = "symlink";
			ret = symlink(b, a);
			if (!ret)
				RACE_COUNT(r, symlinks);
		} else if (op < 57) {
			name = "mkdir";
			ret = mkdir(a, 0755);
			if (!ret)
				RACE_COUNT(r, mkdirs);
		} else if (op < 69) {
			name = "rmdir";
			ret = rmdir(a);
			if (!ret)
				RACE_COUNT(r, rmdirs);
		} else if (op < 79) {
			name = "unlink";
			ret = unlink(a);
			if (!ret)
				RACE_COUNT(r, unlinks);
		} else if (op < 89) {
			name = "link";
			two = true;
			ret = link(a, b);
			if (!ret)
				RACE_COUNT(r, links);
		} else {
			name = "lstat";
			ret = lstat(a, &st);
			b[0] = '\0';
		}
		if (ret < 0 && !race_expected(errno))
			race_note(r, name, a, two ? b : NULL, errno);
		RACE_COUNT(r, ops);
	}
	return NULL;
}

struct walk {
	long dirs, nondirs;
	struct { ino_t ino; nlink_t nlink; long names; } *files;
	size_t nfiles, cap;
	ino_t *dir_inos;
	size_t ndirs, dcap;
};

/* Check one directory and everything below it (see the race case). */
static void walk_check(struct walk *w, int dirfd, const char *path,
		       ino_t parent)
{
	struct stat self, st, dots;
	struct listed *l;
	size_t n;
	long subdirs = 0;

	CHECK_SYS(fstat(dirfd, &self));
	CHECK_SYS(fstatat(dirfd, "..", &dots, 0));
	CHECK(dots.st_ino == parent, "'%s/..' is inode %lu, its parent is "
	      "%lu", path, (unsigned long)dots.st_ino,
	      (unsigned long)parent);
	for (size_t i = 0; i < w->ndirs; i++)
		CHECK(w->dir_inos[i] != self.st_ino, "directory inode %lu "
		      "is reachable twice (again as %s)",
		      (unsigned long)self.st_ino, path);
	if (w->ndirs == w->dcap) {
		w->dcap = w->dcap ? w->dcap * 2 : 256;
		w->dir_inos = realloc(w->dir_inos,
				      w->dcap * sizeof(*w->dir_inos));
		if (!w->dir_inos)
			fail_msg("out of memory");
	}
	w->dir_inos[w->ndirs++] = self.st_ino;
	l = list_dir(dirfd, &n);
	for (size_t i = 0; i < n; i++) {
		char sub[512];

		snprintf(sub, sizeof(sub), "%s/%s", path, l[i].name);
		CHECK(fstatat(dirfd, l[i].name, &st, AT_SYMLINK_NOFOLLOW) == 0,
		      "readdir lists %s but lookup fails: %s", sub,
		      mt_errname(errno));
		CHECK(st.st_ino == l[i].ino, "%s: readdir says inode %lu, "
		      "lookup %lu", sub, (unsigned long)l[i].ino,
		      (unsigned long)st.st_ino);
		CHECK(l[i].type == DT_UNKNOWN ||
		      (mode_t)DTTOIF(l[i].type) == (st.st_mode & S_IFMT),
		      "%s: d_type %d but lookup finds mode %o", sub,
		      l[i].type, st.st_mode);
		if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd, l[i].name,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW);

			CHECK(fd >= 0, "open of directory %s: %s", sub,
			      mt_errname(errno));
			subdirs++;
			w->dirs++;
			walk_check(w, fd, sub, self.st_ino);
			close(fd);
			continue;
		}
		w->nondirs++;
		size_t k;

		for (k = 0; k < w->nfiles; k++)
			if (w->files[k].ino == st.st_ino)
				break;
		if (k == w->nfiles) {
			if (w->nfiles == w->cap) {
				w->cap = w->cap ? w->cap * 2 : 256;
				w->files = realloc(w->files,
						   w->cap * sizeof(*w->files));
				if (!w->files)
					fail_msg("out of memory");
			}
			w->files[k].ino = st.st_ino;
			w->files[k].nlink = st.st_nlink;
			w->files[k].names = 0;
			w->nfiles++;
		}
		CHECK(w->files[k].nlink == st.st_nlink, "inode %lu has nlink "
		      "%lu by one name and %lu by %s", (unsigned long)st.st_ino,
		      (unsigned long)w->files[k].nlink,
		      (unsigned long)st.st_nlink, sub);
		w->files[k].names++;
	}
	free(l);
	CHECK(self.st_nlink == (nlink_t)(2 + subdirs), "directory %s has "
	      "nlink %lu with %ld subdirectories", path,
	      (unsigned long)self.st_nlink, subdirs);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

static void exchange_rename_rmdir_create_race_leaves_a_consistent_tree(
	void **state)
{
	static struct race r;
	struct racer who[RACE_THREADS];
	pthread_t t[RACE_THREADS];
	struct walk w;
	struct stat top;
	long secs = (long)env_u64("MIXFS_RACE_SECONDS",
				  getenv("MIXFS_LONG") &&
				  !strcmp(getenv("MIXFS_LONG"), "1") ? 30 : 2);
	long want_dirs, want_names;
	int fd;

	(void)state;
	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&r.lock, NULL);
	r.seed = env_u64("MIXFS_SEED", (uint64_t)time(NULL) ^
			 ((uint64_t)getpid() << 16));
	printf("# race: seed %llu, %d threads, %ld s (MIXFS_SEED, "
	       "MIXFS_RACE_SECONDS)\n", (unsigned long long)r.seed,
	       RACE_THREADS, secs);
	for (int i = 0; i < RACE_DIRS; i++) {
		char d[8];

		snprintf(d, sizeof(d), "r%d", i);
		CHECK_SYS(mkdir(d, 0755));
	}
	for (unsigned i = 0; i < RACE_THREADS; i++) {
		who[i].race = &r;
		who[i].id = i;
		CHECK(pthread_create(&t[i], NULL, racer_main, &who[i]) == 0,
		      "pthread_create");
	}
	sleep((unsigned)secs);
	r.stop = 1;
	for (int i = 0; i < RACE_THREADS; i++)
		pthread_join(t[i], NULL);
	printf("# race: %ld calls; %ld exchanges, %ld renames, %ld creates, "
	       "%ld symlinks, %ld links, %ld unlinks, %ld mkdirs, %ld rmdirs "
	       "succeeded\n", r.ops, r.exchanges, r.renames, r.creates,
	       r.symlinks, r.links, r.unlinks, r.mkdirs, r.rmdirs);
	CHECK(!r.bad[0], "seed %llu: %s", (unsigned long long)r.seed, r.bad);

	/* Every name resolves to what readdir says, every directory is
	 * reachable once with ".." its parent and nlink 2 + subdirs, every
	 * file's nlink is the number of names found for it, and the counts
	 * of names add up to what the calls that succeeded made. */
	memset(&w, 0, sizeof(w));
	fd = CHECK_SYS(open(".", O_RDONLY | O_DIRECTORY));
	CHECK_SYS(stat("..", &top));
	walk_check(&w, fd, ".", top.st_ino);
	close(fd);
	want_dirs = RACE_DIRS + r.mkdirs - r.rmdirs;
	want_names = r.creates + r.symlinks + r.links - r.unlinks;
	CHECK(w.dirs == want_dirs, "seed %llu: %ld directories found, "
	      "%ld made and never removed", (unsigned long long)r.seed,
	      w.dirs, want_dirs);
	CHECK(w.nondirs == want_names, "seed %llu: %ld names of files found, "
	      "the calls that succeeded leave %ld", (unsigned long long)r.seed,
	      w.nondirs, want_names);
	for (size_t k = 0; k < w.nfiles; k++)
		CHECK(w.files[k].nlink == (nlink_t)w.files[k].names,
		      "seed %llu: inode %lu has nlink %lu but %ld names",
		      (unsigned long long)r.seed,
		      (unsigned long)w.files[k].ino,
		      (unsigned long)w.files[k].nlink, w.files[k].names);
	printf("# race: %ld directories, %ld names of %zu files afterwards\n",
	       w.dirs, w.nondirs, w.nfiles);
	free(w.files);
	free(w.dir_inos);
	pthread_mutex_destroy(&r.lock);
}

/*
 * rename() replaces its target atomically: a process opening the name
 * all the while finds the old file or the new one, never no file.
 */
static void open_racing_a_replacing_rename_always_finds_a_file(void **state)
{
	static char buf[20000];
	long opens = 0, enoent = 0, bad_reads = 0;
	struct timespec t0, t;
	pid_t pid;
	int fd;

	(void)state;
	mt_write_file("s", buf, 5000);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0, "fork: %s", mt_errname(errno));
	if (pid == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			for (int i = 0; i < 20; i++) {
				fd = open("t", O_CREAT | O_TRUNC | O_WRONLY,
					  0644);
				if (fd < 0 || write(fd, buf, 5000 + i * 500) < 0 ||
				    close(fd) < 0 || rename("t", "s") < 0)
					_exit(1);
			}
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while (t.tv_sec - t0.tv_sec < 2);
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		fd = open("s", O_RDONLY);
		opens++;
		if (fd < 0) {
			CHECK(errno == ENOENT, "open of s: %s",
			      mt_errname(errno));
			enoent++;
		} else {
			ssize_t n = pread(fd, buf, sizeof(buf), 0);

			bad_reads += n < 5000;
			close(fd);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < 2);
	mt_wait_ok(pid, "the renaming child");
	CHECK(!enoent && !bad_reads, "%ld of %ld opens of a name being "
	      "replaced by rename failed with ENOENT, %ld reads of an "
	      "opened file fell short or failed", enoent, opens, bad_reads);
}

/* --- offsets and sizes -------------------------------------------------- */

static void offsets_negative_or_past_2_63_fail_einval_or_efbig(void **state)
{
	char buf[8] = "abcdefg";
	struct stat st;
	int fd;

	(void)state;
	fd = CHECK_SYS(open("f", O_CREAT | O_RDWR, 0644));
	mt_write_all(fd, buf, 4, "f");
	CHECK_ERRNO(lseek(fd, -1, SEEK_SET), EINVAL);
	CHECK_ERRNO(lseek(fd, -5, SEEK_END), EINVAL);
	CHECK_ERRNO(lseek(fd, INT64_MIN, SEEK_CUR), EINVAL);
	CHECK(lseek(fd, INT64_MAX, SEEK_SET) == INT64_MAX,
	      "lseek to 2^63-1: %s", mt_errname(errno));
	CHECK_ERRNO(lseek(fd, 1, SEEK_CUR), EINVAL);
	CHECK(lseek(fd, 0, SEEK_CUR) == INT64_MAX, "a failed lseek moved "
	      "the offset");
	/* Linux refuses a transfer whose end overflows with EINVAL before
	 * any filesystem sees it; one of 0 bytes, or one that ends at
	 * 2^63 - 1, is fine (read: end of file). */
	CHECK_ERRNO(read(fd, buf, 1), EINVAL);
	CHECK_ERRNO(write(fd, buf, 1), EINVAL);
	CHECK(read(fd, buf, 0) == 0, "a 0-byte read at 2^63-1: %s",
	      mt_errname(errno));
	CHECK_ERRNO(pread(fd, buf, 1, -1), EINVAL);
	CHECK_ERRNO(pwrite(fd, buf, 1, -1), EINVAL);
	CHECK_ERRNO(pwrite(fd, buf, 1, INT64_MIN), EINVAL);
	CHECK_ERRNO(pread(fd, buf, 1, INT64_MAX), EINVAL);
	CHECK_ERRNO(pwrite(fd, buf, 1, INT64_MAX), EINVAL);
	CHECK_ERRNO(pwrite(fd, buf, 2, INT64_MAX - 1), EINVAL);
	CHECK(pread(fd, buf, 1, INT64_MAX - 1) == 0, "pread of the byte "
	      "before 2^63-1 is not end of file: %s", mt_errname(errno));
	CHECK(pwrite(fd, buf, 0, INT64_MAX) == 0, "a 0-byte pwrite at "
	      "2^63-1: %s", mt_errname(errno));
	CHECK_ERRNO(ftruncate(fd, -1), EINVAL);
	CHECK_ERRNO(ftruncate(fd, INT64_MIN), EINVAL);
	CHECK_ERRNO(truncate("f", -1), EINVAL);
	CHECK_ERRNO(fallocate(fd, 0, -1, 1), EINVAL);
	CHECK_ERRNO(fallocate(fd, 0, 0, 0), EINVAL);
	CHECK_ERRNO(fallocate(fd, 0, 0, -1), EINVAL);
	CHECK_ERRNO(fallocate(fd, 0, INT64_MAX, 1), EFBIG);
	CHECK_ERRNO(fallocate(fd, 0, INT64_MAX - 10, 100), EFBIG);
	CHECK_ERRNO(fallocate(fd, FALLOC_FL_KEEP_SIZE, INT64_MAX - 10, 100),
		    EFBIG);
	CHECK_ERRNO(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      INT64_MAX, 1), EFBIG);
	CHECK_ERRNO(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 1), EOPNOTSUPP);
	/* A hole punched past the end of the file changes nothing. */
	CHECK_SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			    1 << 20, 4096));
	/* Nothing above changed the file. */
	CHECK_SYS(fstat(fd, &st));
	CHECK(st.st_size == 4, "refused calls left size %lld, expected 4",
	      (long long)st.st_size);
	CHECK(pread(fd, buf, 8, 0) == 4 && !memcmp(buf, "abcd", 4),
	      "refused calls changed the data");
	close(fd);
	/* O_APPEND cannot get past the end either. */
	fd = CHECK_SYS(open("f", O_RDWR | O_APPEND));
	CHECK_ERRNO(pwrite(fd, buf, 1, -1), EINVAL);
	close(fd);
}

/* Largest size ftruncate accepts, found by bisection; the file is left
 * at some size between 0 and that. */
static off_t largest_size(int fd)
{
	off_t lo = 0, hi = INT64_MAX;

	if (ftruncate(fd, hi) == 0)
		return hi;
	CHECK(errno == EFBIG, "ftruncate to 2^63-1 failed with %s, "
	      "expected EFBIG or success", mt_errname(errno));
	/* lo is accepted, hi refused. */
	while (hi - lo > 1) {
		off_t mid = lo + (hi - lo) / 2;

		if (ftruncate(fd, mid) == 0) {
			lo = mid;
		} else {
			CHECK(errno == EFBIG, "ftruncate to %lld failed with "
			      "%s, expected EFBIG", (long long)mid,
			      mt_errname(errno));
			hi = mid;
		}
	}
	return lo;
}

static void file_at_the_largest_size_is_sparse_and_reads_its_last_byte(
	void **state)
{
	char buf[4], zeros[4096] = { 0 }, got[4096];
	off_t max;
	struct stat st;
	int fd;

	(void)state;
	fd = CHECK_SYS(open("big", O_CREAT | O_RDWR, 0644));
	max = largest_size(fd);
	printf("# largest file size: %lld bytes (%s)\n", (long long)max,
	       max == INT64_MAX ? "2^63 - 1, the kernel's limit" :
	       "the filesystem's own limit, below the kernel's 2^63 - 1");
	CHECK(max >= (off_t)1 << 40, "the largest file is %lld bytes, "
	      "less than 1 TiB", (long long)max);
	CHECK_SYS(ftruncate(fd, max));
	CHECK(pwrite(fd, "Z", 1, max - 1) == 1, "write of the last byte at "
	      "%lld: %s", (long long)(max - 1), mt_errname(errno));
	CHECK_SYS(fstat(fd, &st));
	CHECK(st.st_size == max, "size %lld after writing the last byte of "
	      "a %lld-byte file", (long long)st.st_size, (long long)max);
	CHECK((uint64_t)st.st_blocks * 512 < 64 << 20, "a sparse file of "
	      "%lld bytes holding one byte takes %lld blocks",
	      (long long)max, (long long)st.st_blocks);
	CHECK(pread(fd, buf, 2, max - 2) == 2 && buf[0] == 0 && buf[1] == 'Z',
	      "the last two bytes did not read back as 0, 'Z'");
	CHECK(pread(fd, buf, 1, max - 1) == 1 && buf[0] == 'Z',
	      "the last byte did not read back alone");
	CHECK(max == INT64_MAX || pread(fd, buf, 1, max) == 0,
	      "read at the largest size is not end of file");
	CHECK(pread(fd, got, sizeof(got), max / 2) == (ssize_t)sizeof(got) &&
	      !memcmp(got, zeros, sizeof(got)), "the middle of the sparse "
	      "file is not zeros");
	/*
	 * Nothing goes past it. At 2^63 - 1 the kernel refuses first, with
	 * EINVAL (the end of the transfer overflows); below it is the
	 * filesystem's EFBIG. A write across a limit below 2^63 - 1 stores
	 * what fits (POSIX: "only as many bytes as there is room for").
	 */
	if (max == INT64_MAX) {
		CHECK_ERRNO(pwrite(fd, "Y", 1, max), EINVAL);
		CHECK_ERRNO(pwrite(fd, "XY", 2, max - 1), EINVAL);
	} else {
		ssize_t w;

		CHECK_ERRNO(pwrite(fd, "Y", 1, max), EFBIG);
		/* The page is cached now (read above), so the kernel sends
		 * both bytes in one request. */
		w = pwrite(fd, "XY", 2, max - 1);
		CHECK(w == 1, "a 2-byte write at the last byte returned %zd "
		      "(%s), expected 1 (a short write)", w,
		      w < 0 ? mt_errname(errno) : "no error");
		CHECK_ERRNO(ftruncate(fd, max + 1), EFBIG);
		CHECK_ERRNO(fallocate(fd, 0, max, 1), EFBIG);
		CHECK_ERRNO(fallocate(fd, 0, max - 1, 2), EFBIG);
	}
	CHECK(lseek(fd, 0, SEEK_END) == max, "SEEK_END is not the size");
	CHECK_ERRNO2(write(fd, "W", 1), EFBIG, EINVAL);
	close(fd);
	fd = CHECK_SYS(open("big", O_WRONLY | O_APPEND));
	CHECK_ERRNO2(write(fd, "W", 1), EFBIG, EINVAL);
	close(fd);
	fd = CHECK_SYS(open("big", O_RDONLY));
	CHECK_SYS(fstat(fd, &st));
	CHECK(st.st_size == max, "refused writes changed the size to %lld",
	      (long long)st.st_size);
	CHECK(pread(fd, buf, 1, max - 1) == 1 &&
	      buf[0] == (max == INT64_MAX ? 'Z' : 'X'),
	      "the last byte is not the one last stored");
	close(fd);
	CHECK_SYS(truncate("big", 0));
}

/* --- O_DIRECT and mmap -------------------------------------------------- */

static void o_direct_and_mmap_of_one_file_agree_after_msync(void **state)
{
	const size_t len = 256 << 10;
	unsigned char *map, *dbuf = NULL, *plain;
	size_t bad;
	int fd, dfd;

	(void)state;
	fd = CHECK_SYS(open("f", O_CREAT | O_RDWR, 0644));
	CHECK_SYS(ftruncate(fd, (off_t)len));
	dfd = open("f", O_RDWR | O_DIRECT);
	CHECK(dfd >= 0, "open with O_DIRECT: %s", mt_errname(errno));
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED, "mmap: %s", mt_errname(errno));
	CHECK(posix_memalign((void **)&dbuf, 4096, len) == 0, "no memory");
	plain = malloc(len);
	CHECK(plain, "no memory");
	/* Touch the mapping first so that it has pages to be stale. */
	CHECK(map[0] == 0 && map[len - 1] == 0, "a new file is not zeros");

	/* O_DIRECT writes; the mapping sees them. */
	mt_pattern(dbuf, len, 0, 1);
	CHECK(pwrite(dfd, dbuf, len, 0) == (ssize_t)len, "O_DIRECT write: "
	      "%s", mt_errname(errno));
	bad = mt_pattern_check(map, len, 0, 1);
	CHECK(bad == len, "after an O_DIRECT write the mapping differs at "
	      "byte %zu", bad);

	/* The mapping writes; after msync O_DIRECT and read() see it. */
	mt_pattern(map + 4096, 64 << 10, 4096, 2);
	mt_pattern(map + 100000, 5000, 100000, 3);
	CHECK_SYS(msync(map, len, MS_SYNC));
	memset(dbuf, 0xee, len);
	CHECK(pread(dfd, dbuf, len, 0) == (ssize_t)len, "O_DIRECT read: %s",
	      mt_errname(errno));
	CHECK(!memcmp(dbuf, map, len), "after msync an O_DIRECT read "
	      "differs from the mapping");
	CHECK(mt_pattern_check(dbuf + 4096, 64 << 10, 4096, 2) == 64 << 10 &&
	      mt_pattern_check(dbuf + 100000, 5000, 100000, 3) == 5000 &&
	      mt_pattern_check(dbuf, 4096, 0, 1) == 4096,
	      "an O_DIRECT read after msync lacks the mapped writes");
	mt_pread_all(fd, plain, len, 0, "f");
	CHECK(!memcmp(plain, dbuf, len), "read() and O_DIRECT disagree");

	/* Unaligned O_DIRECT I/O where the filesystem takes it (FUSE and
	 * tmpfs do; a block filesystem would say EINVAL). */
	{
		ssize_t w = pwrite(dfd, "unaligned", 9, 12345);

		CHECK(w == 9 || (w < 0 && errno == EINVAL),
		      "unaligned O_DIRECT write: %s", mt_errname(errno));
		if (w == 9)
			CHECK(!memcmp(map + 12345, "unaligned", 9),
			      "the mapping misses an unaligned O_DIRECT "
			      "write");
	}
	CHECK_SYS(munmap(map, len));
	close(dfd);
	close(fd);
	free(dbuf);
	free(plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		MT_CASE(every_byte_but_slash_and_nul_names_a_file),
		MT_CASE(names_of_255_bytes_of_any_byte_work_256_fail),
		MT_CASE(paths_to_path_max_and_trees_deeper_than_it),
		MT_CASE(symlink_loops_end_in_eloop_chains_of_40_resolve),
		MT_CASE(exchange_rename_rmdir_create_race_leaves_a_consistent_tree),
		MT_CASE(open_racing_a_replacing_rename_always_finds_a_file),
		MT_CASE(offsets_negative_or_past_2_63_fail_einval_or_efbig),
		MT_CASE(file_at_the_largest_size_is_sparse_and_reads_its_last_byte),
		MT_CASE(o_direct_and_mmap_of_one_file_agree_after_msync),
	};

	mt_base();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
