/*
 * stress_ops.c - the workload of test_stress.sh: several processes doing
 * mixed operations on one directory tree for a fixed time, each checking
 * what it reads against what it knows was written.
 *
 *   stress_ops ROOT SECONDS PROCS SEED
 *
 * Each process works in two places:
 *
 * - its own directory ROOT/p<k>, where nothing else writes, so it keeps
 *   an exact model: the bytes of its files f0..f11, their extended
 *   attributes, its subdirectories. Operations: create with O_TRUNC,
 *   overwrite and write past the end at random offsets, O_APPEND, read
 *   and compare the whole file, truncate down and up, fsync, rename over
 *   another file, a hard link checked for nlink and removed, unlink,
 *   mkdir/rmdir, set/get/remove of user.* attributes, and readdir, which
 *   must list exactly the names of the model;
 * - ROOT/shared, where every process replaces, links, unlinks and reads
 *   the files s0..s15. A shared file is made under a private temporary
 *   name and renamed into place, so it is always whole; its first 16
 *   bytes say its length and seed, so any reader can check every byte.
 *
 * Prints one line "ops N errors 0 stale_reads S" at the end: S counts reads
 * of a file just opened that failed with ENOENT, because the open raced a
 * rename that replaced its name (tablefs frees such an inode too early);
 * they stop the run only with MIXFS_STRICT=1. Any mismatch or unexpected
 * errno prints "process K step N: what" on stderr and the exit status is
 * 1. The seed makes each process's choices repeatable; how the processes
 * interleave is up to the scheduler.
 *
 * Not here: mounting, fsck and the daemon's memory (test_stress.sh does
 * those), crash consistency (tests/crash).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define NFILES 12
#define NDIRS 4
#define NSHARED 16
#define MAX_FILE (192 << 10)
#define MAX_SHARED (96 << 10)

struct file {
	bool exists;
	size_t size;
	unsigned char *data;	/* MAX_FILE bytes */
	bool has_xattr;
	uint32_t xattr;		/* value of user.k */
};

static int me;			/* process number */
static long step;
static uint64_t rng;
static struct file files[NFILES];
static bool dirs[NDIRS];
static unsigned char *iobuf;	/* MAX_FILE + MAX_SHARED + 64 */
static bool strict;		/* MIXFS_STRICT=1 */
static long stale_reads;	/* reads of an open file that said ENOENT */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "process %d step %ld: ", me, step);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t rnd(void)
{
	uint64_t x = (rng += 0x9e3779b97f4a7c15ull);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static size_t below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

static void fill(unsigned char *p, size_t len)
{
	uint64_t x = rnd();

	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		p[i] = (unsigned char)(x >> (8 * (i % 8)));
	}
}

static void pwrite_all(int fd, const void *buf, size_t len, off_t off,
		       const char *what)
{
	ssize_t n = pwrite(fd, buf, len, off);

	if (n != (ssize_t)len)
		die("write of %zu bytes at %lld to %s returned %zd (%s)", len,
		    (long long)off, what, n, n < 0 ? strerror(errno) : "short");
}

/* --- the private directory ---------------------------------------------- */

static void fname(char *buf, int i)
{
	sprintf(buf, "p%d/f%d", me, i);
}

static void verify(int i)
{
	struct file *f = &files[i];
	char name[32];
	struct stat st;
	ssize_t n;
	int fd;

	fname(name, i);
	fd = open(name, O_RDONLY);
	if (!f->exists) {
		if (fd >= 0 || errno != ENOENT)
			die("%s should not exist (open: %s)", name,
			    fd >= 0 ? "succeeded" : strerror(errno));
		return;
	}
	if (fd < 0)
		die("open %s: %s", name, strerror(errno));
	if (fstat(fd, &st) < 0 || (size_t)st.st_size != f->size)
		die("%s has size %lld, expected %zu", name,
		    (long long)st.st_size, f->size);
	n = pread(fd, iobuf, MAX_FILE + 16, 0);
	if (n != (ssize_t)f->size)
		die("read of %s returned %zd, expected %zu", name, n, f->size);
	if (memcmp(iobuf, f->data, f->size)) {
		size_t k = 0;

		while (iobuf[k] == f->data[k])
			k++;
		die("%s differs at byte %zu of %zu", name, k, f->size);
	}
	close(fd);
}

static void op_private(void)
{
	int i = (int)below(NFILES), j = (int)below(NFILES);
	struct file *f = &files[i];
	char name[32], other[32];
	unsigned op = (unsigned)below(100);
	int fd;

	fname(name, i);
	fname(other, j);
	if (op < 12) {			/* create or replace */
		size_t len = below(4) ? below(8192) : below(MAX_FILE);

		fd = open(name, O_CREAT | O_TRUNC | O_WRONLY, 0644);
		if (fd < 0)
			die("create %s: %s", name, strerror(errno));
		fill(f->data, len);
		pwrite_all(fd, f->data, len, 0, name);
		close(fd);
		if (!f->exists)		/* O_TRUNC keeps an old file's xattrs */
			f->has_xattr = false;
		f->exists = true;
		f->size = len;
	} else if (op < 30 && f->exists) {	/* write inside or past */
		size_t off = below(f->size + 8192), len = 1 + below(32768);

		if (off + len > MAX_FILE)
			return;
		fd = open(name, O_WRONLY);
		if (fd < 0)
			die("open %s: %s", name, strerror(errno));
		if (off > f->size)
			memset(f->data + f->size, 0, off - f->size);
		fill(f->data + off, len);
		pwrite_all(fd, f->data + off, len, (off_t)off, name);
		if (off + len > f->size)
			f->size = off + len;
		if (below(4) == 0 && fsync(fd) < 0)
			die("fsync %s: %s", name, strerror(errno));
		close(fd);
	} else if (op < 38 && f->exists) {	/* append */
		size_t len = 1 + below(6000);

		if (f->size + len > MAX_FILE)
			return;
		fd = open(name, O_WRONLY | O_APPEND);
		if (fd < 0)
			die("open %s: %s", name, strerror(errno));
		fill(f->data + f->size, len);
		if (write(fd, f->data + f->size, len) != (ssize_t)len)
			die("append to %s: %s", name, strerror(errno));
		f->size += len;
		close(fd);
	} else if (op < 55) {		/* read and compare */
		verify(i);
	} else if (op < 62 && f->exists) {	/* truncate */
		size_t len = below(MAX_FILE);

		if (truncate(name, (off_t)len) < 0)
			die("truncate %s to %zu: %s", name, len,
			    strerror(errno));
		if (len > f->size)
			memset(f->data + f->size, 0, len - f->size);
		f->size = len;
	} else if (op < 68 && f->exists && i != j) {	/* rename over */
		struct file t;

		if (rename(name, other) < 0)
			die("rename %s %s: %s", name, other, strerror(errno));
		t = files[j];
		files[j] = *f;
		*f = t;
		f->exists = false;
		f->has_xattr = false;
	} else if (op < 72 && f->exists) {	/* a hard link, checked */
		struct stat st;
		char l[32];

		sprintf(l, "p%d/link", me);
		if (link(name, l) < 0)
			die("link %s %s: %s", name, l, strerror(errno));
		if (stat(name, &st) < 0 || st.st_nlink != 2)
			die("%s has nlink %lu after a link", name,
			    (unsigned long)st.st_nlink);
		if (unlink(l) < 0)
			die("unlink %s: %s", l, strerror(errno));
	} else if (op < 78 && f->exists) {	/* unlink */
		if (unlink(name) < 0)
			die("unlink %s: %s", name, strerror(errno));
		f->exists = false;
		f->has_xattr = false;
	} else if (op < 84) {		/* mkdir or rmdir */
		int d = (int)below(NDIRS);
		char dn[32];

		sprintf(dn, "p%d/d%d", me, d);
		if (dirs[d] ? rmdir(dn) < 0 : mkdir(dn, 0755) < 0)
			die("%s %s: %s", dirs[d] ? "rmdir" : "mkdir", dn,
			    strerror(errno));
		dirs[d] = !dirs[d];
	} else if (op < 94 && f->exists) {	/* xattrs */
		uint32_t v = (uint32_t)rnd(), got;
		ssize_t n;

		if (below(3) == 0 && f->has_xattr) {
			if (removexattr(name, "user.k") < 0)
				die("removexattr %s: %s", name,
				    strerror(errno));
			f->has_xattr = false;
			return;
		}
		if (f->has_xattr) {
			n = getxattr(name, "user.k", &got, sizeof(got));
			if (n != sizeof(got) || got != f->xattr)
				die("getxattr %s returned %zd, value %08x, "
				    "expected %08x", name, n, got, f->xattr);
		}
		if (setxattr(name, "user.k", &v, sizeof(v), 0) < 0)
			die("setxattr %s: %s", name, strerror(errno));
		f->xattr = v;
		f->has_xattr = true;
	} else {			/* readdir agrees with the model */
		char dn[16];
		bool seen[NFILES + NDIRS] = { false };
		struct dirent *de;
		DIR *d;
		int k;

		sprintf(dn, "p%d", me);
		d = opendir(dn);
		if (!d)
			die("opendir %s: %s", dn, strerror(errno));
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."))
				continue;
			k = atoi(de->d_name + 1);
			if (de->d_name[0] == 'f' && k < NFILES &&
			    files[k].exists && !seen[k])
				seen[k] = true;
			else if (de->d_name[0] == 'd' && k < NDIRS &&
				 dirs[k] && !seen[NFILES + k])
				seen[NFILES + k] = true;
			else
				die("readdir of %s lists '%s', which should "
				    "not be there (or twice)", dn, de->d_name);
		}
		closedir(d);
		for (k = 0; k < NFILES; k++)
			if (files[k].exists && !seen[k])
				die("readdir of %s misses f%d", dn, k);
		for (k = 0; k < NDIRS; k++)
			if (dirs[k] && !seen[NFILES + k])
				die("readdir of %s misses d%d", dn, k);
	}
}

/* --- the shared directory ----------------------------------------------- */

/* A shared file: 8 bytes length, 8 bytes seed, then bytes from the seed. */
static void shared_bytes(unsigned char *p, size_t len, uint64_t seed)
{
	uint64_t x = seed;

	for (size_t i = 16; i < len; i++) {
		if (i % 8 == 0)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		p[i] = (unsigned char)(x >> (8 * (i % 8)));
	}
}

static void op_shared(void)
{
	char name[32], other[32], tmp[32];
	unsigned op = (unsigned)below(100);
	int fd;

	sprintf(name, "shared/s%zu", below(NSHARED));
	sprintf(other, "shared/s%zu", below(NSHARED));
	if (op < 30) {			/* atomic replace */
		size_t len = below(4) ? 16 + below(4096) :
				       16 + below(MAX_SHARED - 16);
		uint64_t seed = rnd(), l64 = len;

		sprintf(tmp, "shared/t%d", me);
		fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY, 0644);
		if (fd < 0)
			die("create %s: %s", tmp, strerror(errno));
		memcpy(iobuf, &l64, 8);
		memcpy(iobuf + 8, &seed, 8);
		shared_bytes(iobuf, len, seed);
		pwrite_all(fd, iobuf, len, 0, tmp);
		close(fd);
		if (rename(tmp, name) < 0)
			die("rename %s %s: %s", tmp, name, strerror(errno));
	} else if (op < 40) {
		if (link(name, other) < 0 && errno != ENOENT &&
		    errno != EEXIST)
			die("link %s %s: %s", name, other, strerror(errno));
	} else if (op < 55) {
		if (unlink(name) < 0 && errno != ENOENT)
			die("unlink %s: %s", name, strerror(errno));
	} else if (op < 60) {
		if (rename(name, other) < 0 && errno != ENOENT)
			die("rename %s %s: %s", name, other, strerror(errno));
	} else if (op < 90) {		/* read whole, check every byte */
		uint64_t l64, seed;
		ssize_t n;

		fd = open(name, O_RDONLY);
		if (fd < 0) {
			if (errno != ENOENT)
				die("open %s: %s", name, strerror(errno));
			return;
		}
		n = pread(fd, iobuf, MAX_SHARED + 32, 0);
		close(fd);
		if (n < 0 && errno == ENOENT && !strict) {
			/* An open that raced the replacing rename got an
			 * inode the filesystem had already freed: counted
			 * and reported, not a stop (MIXFS_STRICT=1). */
			stale_reads++;
			return;
		}
		if (n < 16)
			die("read of %s returned %zd (%s)", name, n,
			    n < 0 ? strerror(errno) : "shorter than a header");
		memcpy(&l64, iobuf, 8);
		memcpy(&seed, iobuf + 8, 8);
		if (l64 != (uint64_t)n)
			die("%s says it has %llu bytes, read returned %zd",
			    name, (unsigned long long)l64, n);
		{
			static unsigned char *want;

			if (!want && !(want = malloc(MAX_SHARED + 32)))
				die("out of memory");
			shared_bytes(want, (size_t)n, seed);
			for (size_t k = 16; k < (size_t)n; k++)
				if (want[k] != iobuf[k])
					die("%s differs at byte %zu of %zd",
					    name, k, n);
		}
	} else {			/* readdir; each entry or ENOENT */
		struct dirent *de;
		struct stat st;
		DIR *d = opendir("shared");
		char p[300];

		if (!d)
			die("opendir shared: %s", strerror(errno));
		while ((de = readdir(d))) {
			snprintf(p, sizeof(p), "shared/%s", de->d_name);
			if (lstat(p, &st) < 0 && errno != ENOENT)
				die("lstat %s: %s", p, strerror(errno));
		}
		closedir(d);
	}
}

static long run(const char *root, double secs, uint64_t seed)
{
	struct timespec t0, t;
	char dn[16];

	rng = seed * 1000003 + (uint64_t)me;
	if (chdir(root) < 0)
		die("chdir %s: %s", root, strerror(errno));
	sprintf(dn, "p%d", me);
	if (mkdir(dn, 0755) < 0)
		die("mkdir %s: %s", dn, strerror(errno));
	iobuf = malloc(MAX_FILE + MAX_SHARED + 64);
	for (int i = 0; i < NFILES; i++)
		files[i].data = malloc(MAX_FILE);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (step = 0;; step++) {
		if (step % 64 == 0) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((double)(t.tv_sec - t0.tv_sec) +
			    (double)(t.tv_nsec - t0.tv_nsec) / 1e9 >= secs)
				break;
		}
		if (below(3))
			op_private();
		else
			op_shared();
	}
	for (int i = 0; i < NFILES; i++)
		verify(i);
	return step;
}

int main(int argc, char **argv)
{
	int procs, status, bad = 0;
	uint64_t seed;
	long total = 0, stale = 0;
	const char *st = getenv("MIXFS_STRICT");
	int pfd[2];

	if (argc != 5) {
		fprintf(stderr, "usage: %s ROOT SECONDS PROCS SEED\n", argv[0]);
		return 2;
	}
	procs = atoi(argv[3]);
	strict = st && !strcmp(st, "1");
	seed = strtoull(argv[4], NULL, 0);
	if (chdir(argv[1]) < 0 || (mkdir("shared", 0755) < 0 &&
				   errno != EEXIST)) {
		perror(argv[1]);
		return 1;
	}
	if (pipe(pfd) < 0)
		return 1;
	for (me = 0; me < procs; me++) {
		pid_t pid = fork();

		if (pid == 0) {
			long n;

			close(pfd[0]);
			long both[2];

			n = run(argv[1], atof(argv[2]), seed);
			both[0] = n;
			both[1] = stale_reads;
			if (write(pfd[1], both, sizeof(both)) != sizeof(both))
				return 1;
			return 0;
		}
		if (pid < 0) {
			perror("fork");
			return 1;
		}
	}
	close(pfd[1]);
	for (int i = 0; i < procs; i++) {
		long both[2];

		if (read(pfd[0], both, sizeof(both)) == sizeof(both)) {
			total += both[0];
			stale += both[1];
		}
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	printf("ops %ld errors %d stale_reads %ld\n", total, bad, stale);
	return bad ? 1 : 0;
}
