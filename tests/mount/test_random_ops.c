/*
 * test_random_ops.c - differential test: one seeded random sequence of
 * filesystem operations is applied to the directory under test and to a
 * reference directory, and the two must agree on every result.
 *
 * Operations: create (with O_EXCL/O_TRUNC), write at a random offset
 * (also O_APPEND), read, truncate, mkdir, rmdir, unlink, rename (plain,
 * RENAME_NOREPLACE, RENAME_EXCHANGE, over existing names), link, symlink,
 * readlink, mkfifo, chmod, setxattr/getxattr/removexattr, utimensat, and
 * open/pread/pwrite/ftruncate/close on a few descriptors kept open across
 * steps (so files are also used after they were unlinked or renamed).
 * Names come from a small set in a tree three levels deep, so operations
 * collide often.
 *
 * After each step the return value and errno of the operation must match,
 * and the paths it touched (and their parents) must look the same on both
 * sides: type, mode, owner, nlink, size (not of directories), symlink
 * target, contents, user.* xattrs, directory entries, and atime/mtime
 * right after they were set explicitly. Every 100 steps, and at the end,
 * the whole trees are compared, including which names are hard links of
 * one another. Inode numbers and unset times are never compared.
 *
 * Run against any directory:
 *
 *   MIXFS_TEST_DIR=/mnt/x [MIXFS_REF_DIR=/tmp/ref] [MIXFS_SEED=n] \
 *   [MIXFS_LONG=1] [MIXFS_RANDOM_STEPS=n] CMOCKA_MESSAGE_OUTPUT=TAP \
 *   ./test_random_ops
 *
 * MIXFS_REF_DIR defaults to a new temporary directory under $TMPDIR (or
 * /tmp), removed afterwards. The run takes 10^4 steps in all, half in
 * each of the two cases (10^6 with MIXFS_LONG=1; MIXFS_RANDOM_STEPS sets
 * the total). On a mismatch the program prints
 * the seed, the step and the last 20 operations with both sides' results;
 * rerun with MIXFS_SEED=<seed> to reproduce.
 */
#include "mount_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

enum op_kind {
	OP_CREATE, OP_WRITE, OP_READ, OP_TRUNCATE, OP_MKDIR, OP_RMDIR,
	OP_UNLINK, OP_RENAME, OP_LINK, OP_SYMLINK, OP_READLINK, OP_MKFIFO,
	OP_CHMOD, OP_SETXATTR, OP_GETXATTR, OP_REMOVEXATTR, OP_UTIMENS,
	OP_OPEN, OP_FDWRITE, OP_FDREAD, OP_FDTRUNC, OP_CLOSE, OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"create", "write", "read", "truncate", "mkdir", "rmdir", "unlink",
	"rename", "link", "symlink", "readlink", "mkfifo", "chmod",
	"setxattr", "getxattr", "removexattr", "utimens", "open", "fdwrite",
	"fdread", "fdtrunc", "close",
};

/* Relative weights of the operations in the two mixes. */
static const int mix_namespace[OP_COUNT] = {
	[OP_CREATE] = 10, [OP_WRITE] = 6, [OP_READ] = 3, [OP_TRUNCATE] = 3,
	[OP_MKDIR] = 10, [OP_RMDIR] = 6, [OP_UNLINK] = 8, [OP_RENAME] = 14,
	[OP_LINK] = 6, [OP_SYMLINK] = 5, [OP_READLINK] = 2, [OP_MKFIFO] = 2,
	[OP_CHMOD] = 4, [OP_SETXATTR] = 4, [OP_GETXATTR] = 2,
	[OP_REMOVEXATTR] = 2, [OP_UTIMENS] = 3, [OP_OPEN] = 3,
	[OP_FDWRITE] = 3, [OP_FDREAD] = 2, [OP_FDTRUNC] = 1, [OP_CLOSE] = 2,
};

static const int mix_data[OP_COUNT] = {
	[OP_CREATE] = 8, [OP_WRITE] = 20, [OP_READ] = 8, [OP_TRUNCATE] = 8,
	[OP_MKDIR] = 3, [OP_RMDIR] = 1, [OP_UNLINK] = 4, [OP_RENAME] = 5,
	[OP_LINK] = 3, [OP_SYMLINK] = 1, [OP_READLINK] = 1, [OP_MKFIFO] = 1,
	[OP_CHMOD] = 2, [OP_SETXATTR] = 3, [OP_GETXATTR] = 2,
	[OP_REMOVEXATTR] = 1, [OP_UTIMENS] = 2, [OP_OPEN] = 6,
	[OP_FDWRITE] = 14, [OP_FDREAD] = 8, [OP_FDTRUNC] = 4, [OP_CLOSE] = 4,
};

#define NSLOT 4
#define PLEN 32
#define TLEN 1024	/* paths found by walking, moved deep by renames */
#define MAXIO (128 * 1024)

struct op {
	enum op_kind kind;
	char p[PLEN], q[PLEN];	/* paths relative to the root */
	long long off, len;
	int flags, slot;
	mode_t mode;
	uint32_t seed;
	struct timespec ts[2];
	char xname[16];
};

struct res {
	long ret;
	int err;
	uint64_t sum;		/* hash of data returned by a read */
};

struct side {
	const char *name;	/* "test" or "ref" */
	char root[PATH_MAX - 64];	/* room for a relative path */
	int fd[NSLOT];
};

static struct side test_side = { .name = "test" }, ref_side = { .name = "ref" };
static char slot_path[NSLOT][PLEN];	/* path each slot was opened at */
static char ref_base[PATH_MAX - 128];	/* MIXFS_REF_DIR or a temp dir */
static int ref_base_is_temp;
static unsigned long long base_seed;
static unsigned case_no;

/* The last operations, for the failure report. */
#define HIST 20
static char history[HIST][320];
static long hist_step;

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static unsigned rndn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static int list_dir(const char *path, char names[][PLEN], int max);
static void full_path(const struct side *s, const char *rel, char *out);

/* A name from the small set, appended to @buf at @len. */
static size_t add_name(char *buf, size_t len)
{
	if (len)
		buf[len++] = '/';
	buf[len++] = "abcde"[rndn(5)];
	buf[len] = '\0';
	return len;
}

/*
 * A path for the next operation. Most are found by walking the reference
 * tree (entries sorted, so the walk does not depend on readdir order),
 * either to an existing entry or to an existing directory plus a name
 * that may be new; the rest are made up, to exercise the errors of
 * missing paths and of paths through non-directories.
 */
static void rand_path(char *buf)
{
	static char names[64][PLEN];
	char full[PATH_MAX];
	unsigned r = rndn(100), depth, i;
	size_t len = 0;
	struct stat st;
	int n;

	buf[0] = '\0';
	if (r >= 85) {
		r = rndn(100);
		depth = r < 45 ? 1 : r < 85 ? 2 : 3;
		for (i = 0; i < depth; i++)
			len = add_name(buf, len);
		return;
	}
	for (depth = 0; depth < 3; depth++) {
		full_path(&ref_side, len ? buf : ".", full);
		n = list_dir(full, names, 64);
		if (n <= 0)
			break;
		i = rndn(n);
		if (len + strlen(names[i]) + 2 >= PLEN)
			break;
		if (len)
			buf[len++] = '/';
		strcpy(buf + len, names[i]);
		len += strlen(names[i]);
		full_path(&ref_side, buf, full);
		if (lstat(full, &st) < 0 || !S_ISDIR(st.st_mode) || rndn(2))
			break;
	}
	if (r >= 50 || len == 0) {
		/* Into the directory reached (or its parent), a new name. */
		if (len && lstat(full, &st) == 0 && !S_ISDIR(st.st_mode))
			len = strrchr(buf, '/') ? (size_t)(strrchr(buf, '/') -
							   buf) : 0;
		buf[len] = '\0';
		if (len + 3 < PLEN)
			add_name(buf, len);
	}
}

static long long rand_offset(void)
{
	unsigned r = rndn(100);

	if (r < 30)
		return 0;
	if (r < 90)
		return rndn(64 * 1024);
	return rndn(1024 * 1024);
}

static long long rand_len(void)
{
	unsigned r = rndn(100);

	if (r < 5)
		return 0;
	if (r < 85)
		return 1 + rndn(8192);
	return 1 + rndn(MAXIO);
}

static void gen_op(struct op *o, const int *mix)
{
	int total = 0, k, pick;

	memset(o, 0, sizeof(*o));
	for (k = 0; k < OP_COUNT; k++)
		total += mix[k];
	pick = (int)rndn(total);
	for (k = 0; pick >= mix[k]; k++)
		pick -= mix[k];
	o->kind = k;
	rand_path(o->p);
	rand_path(o->q);
	o->off = rand_offset();
	o->len = rand_len();
	o->seed = (uint32_t)rnd();
	o->slot = rndn(NSLOT);
	switch (o->kind) {
	case OP_CREATE:
		o->flags = (rndn(4) == 0 ? O_EXCL : 0) |
			   (rndn(4) == 0 ? O_TRUNC : 0);
		o->mode = rndn(4) ? 0644 : rndn(01000);
		break;
	case OP_WRITE:
		o->flags = rndn(8) == 0 ? O_APPEND : 0;
		break;
	case OP_TRUNCATE:
	case OP_FDTRUNC:
		o->off = rndn(4) ? rndn(128 * 1024) : rand_offset();
		break;
	case OP_MKDIR:
		o->mode = rndn(4) ? 0755 : rndn(010000);
		break;
	case OP_RENAME: {
		unsigned r = rndn(100);

		o->flags = r < 70 ? 0 : r < 85 ? RENAME_NOREPLACE :
			   RENAME_EXCHANGE;
		break;
	}
	case OP_SYMLINK:
		/* Targets stay inside the tree: no "..", no absolute paths;
		 * sometimes a name that is never created. */
		if (rndn(8) == 0)
			strcpy(o->q, "nowhere");
		break;
	case OP_CHMOD:
	case OP_MKFIFO:
		o->mode = rndn(2) ? rndn(01000) : rndn(010000);
		break;
	case OP_SETXATTR:
		o->flags = (int[]){ 0, 0, XATTR_CREATE, XATTR_REPLACE }[rndn(4)];
		o->len = rndn(4) ? rndn(64) : rndn(1024);
		/* fall through */
	case OP_GETXATTR:
	case OP_REMOVEXATTR:
		sprintf(o->xname, "user.k%u", rndn(3));
		break;
	case OP_UTIMENS:
		for (k = 0; k < 2; k++) {
			unsigned r = rndn(10);

			o->ts[k].tv_sec = (time_t)(rnd() % (1ull << 33));
			o->ts[k].tv_nsec = r == 0 ? UTIME_OMIT : r == 1 ?
					   UTIME_NOW : (long)rndn(1000000000);
		}
		o->flags = rndn(3) == 0 ? AT_SYMLINK_NOFOLLOW : 0;
		break;
	case OP_OPEN: {
		static const int fl[] = {
			O_RDWR, O_RDWR, O_RDONLY, O_RDWR | O_CREAT,
			O_RDWR | O_APPEND, O_WRONLY | O_CREAT | O_TRUNC,
		};

		o->flags = fl[rndn(6)];
		break;
	}
	default:
		break;
	}
}

static void describe(const struct op *o, char *buf, size_t n)
{
	switch (o->kind) {
	case OP_RENAME:
	case OP_LINK:
	case OP_SYMLINK:
		snprintf(buf, n, "%s %s %s flags=%#x", op_names[o->kind],
			 o->p, o->q, o->flags);
		break;
	case OP_WRITE:
	case OP_READ:
		snprintf(buf, n, "%s %s off=%lld len=%lld flags=%#x",
			 op_names[o->kind], o->p, o->off, o->len, o->flags);
		break;
	case OP_FDWRITE:
	case OP_FDREAD:
		snprintf(buf, n, "%s slot%d (%s) off=%lld len=%lld",
			 op_names[o->kind], o->slot, slot_path[o->slot],
			 o->off, o->len);
		break;
	case OP_TRUNCATE:
		snprintf(buf, n, "truncate %s %lld", o->p, o->off);
		break;
	case OP_FDTRUNC:
		snprintf(buf, n, "fdtrunc slot%d (%s) %lld", o->slot,
			 slot_path[o->slot], o->off);
		break;
	case OP_OPEN:
		snprintf(buf, n, "open slot%d %s flags=%#x", o->slot, o->p,
			 o->flags);
		break;
	case OP_CLOSE:
		snprintf(buf, n, "close slot%d", o->slot);
		break;
	case OP_SETXATTR:
	case OP_GETXATTR:
	case OP_REMOVEXATTR:
		snprintf(buf, n, "%s %s %s len=%lld flags=%d",
			 op_names[o->kind], o->p, o->xname, o->len, o->flags);
		break;
	case OP_UTIMENS:
		snprintf(buf, n, "utimens %s %lld.%09ld %lld.%09ld flags=%#x",
			 o->p, (long long)o->ts[0].tv_sec, o->ts[0].tv_nsec,
			 (long long)o->ts[1].tv_sec, o->ts[1].tv_nsec,
			 o->flags);
		break;
	default:
		snprintf(buf, n, "%s %s mode=%o flags=%#x", op_names[o->kind],
			 o->p, o->mode, o->flags);
	}
}

static uint64_t hash_bytes(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void full_path(const struct side *s, const char *rel, char *out)
{
	snprintf(out, PATH_MAX, "%s/%s", s->root, rel);
}

static struct res run_op(struct side *s, const struct op *o)
{
	static char buf[MAXIO + 1];
	char P[PATH_MAX], Q[PATH_MAX];
	struct res r = { 0, 0, 0 };
	long ret = 0;
	int fd, *sfd = &s->fd[o->slot];

	full_path(s, o->p, P);
	full_path(s, o->q, Q);
	errno = 0;
	switch (o->kind) {
	case OP_CREATE:
		fd = open(P, O_CREAT | O_WRONLY | O_NONBLOCK | o->flags,
			  o->mode);
		ret = fd < 0 ? -1 : close(fd);
		break;
	case OP_WRITE:
		fd = open(P, O_WRONLY | O_NONBLOCK | o->flags);
		if (fd < 0) {
			ret = -1;
			break;
		}
		mt_pattern(buf, o->len, o->off, o->seed);
		ret = pwrite(fd, buf, o->len, o->off);
		r.err = ret < 0 ? errno : 0;
		close(fd);
		r.ret = ret;
		return r;
	case OP_READ:
		fd = open(P, O_RDONLY | O_NONBLOCK);
		if (fd < 0) {
			ret = -1;
			break;
		}
		ret = pread(fd, buf, o->len, o->off);
		r.err = ret < 0 ? errno : 0;
		if (ret > 0)
			r.sum = hash_bytes(0, buf, ret);
		close(fd);
		r.ret = ret;
		return r;
	case OP_TRUNCATE:
		ret = truncate(P, o->off);
		break;
	case OP_MKDIR:
		ret = mkdir(P, o->mode);
		break;
	case OP_RMDIR:
		ret = rmdir(P);
		break;
	case OP_UNLINK:
		ret = unlink(P);
		break;
	case OP_RENAME:
		ret = syscall(SYS_renameat2, AT_FDCWD, P, AT_FDCWD, Q,
			      o->flags);
		break;
	case OP_LINK:
		ret = link(P, Q);
		break;
	case OP_SYMLINK:
		ret = symlink(o->q, P);
		break;
	case OP_READLINK:
		ret = readlink(P, buf, PATH_MAX);
		if (ret > 0)
			r.sum = hash_bytes(0, buf, ret);
		break;
	case OP_MKFIFO:
		ret = mkfifo(P, o->mode);
		break;
	case OP_CHMOD:
		ret = chmod(P, o->mode);
		break;
	case OP_SETXATTR:
		mt_pattern(buf, o->len, 0, o->seed);
		ret = lsetxattr(P, o->xname, buf, o->len, o->flags);
		break;
	case OP_GETXATTR:
		ret = lgetxattr(P, o->xname, buf, MAXIO);
		if (ret > 0)
			r.sum = hash_bytes(0, buf, ret);
		break;
	case OP_REMOVEXATTR:
		ret = lremovexattr(P, o->xname);
		break;
	case OP_UTIMENS:
		ret = utimensat(AT_FDCWD, P, o->ts, o->flags);
		break;
	case OP_OPEN:
		if (*sfd >= 0)
			close(*sfd);
		errno = 0;
		*sfd = open(P, o->flags | O_NONBLOCK, 0644);
		ret = *sfd < 0 ? -1 : 0;
		break;
	case OP_FDWRITE:
		mt_pattern(buf, o->len, o->off, o->seed);
		ret = pwrite(*sfd, buf, o->len, o->off);
		break;
	case OP_FDREAD:
		ret = pread(*sfd, buf, o->len, o->off);
		if (ret > 0)
			r.sum = hash_bytes(0, buf, ret);
		break;
	case OP_FDTRUNC:
		ret = ftruncate(*sfd, o->off);
		break;
	case OP_CLOSE:
		ret = close(*sfd);
		*sfd = -1;
		break;
	case OP_COUNT:
		break;
	}
	r.err = ret < 0 ? errno : 0;
	r.ret = ret < 0 ? -1 : ret;
	return r;
}

/* ---- comparing the two trees ---- */

static char mismatch[2048];

static int differ(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int differ(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(mismatch, sizeof(mismatch), fmt, ap);
	va_end(ap);
	return -1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entries of directory @path (without "." and ".."). */
static int list_dir(const char *path, char names[][PLEN], int max)
{
	char *ptr[64];
	char tmp[64][PLEN];
	struct dirent *de;
	int n = 0, i;
	DIR *d = opendir(path);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == max || n == 64 || strlen(de->d_name) >= PLEN) {
			closedir(d);
			return -E2BIG;
		}
		strcpy(tmp[n], de->d_name);
		ptr[n] = tmp[n];
		n++;
	}
	closedir(d);
	qsort(ptr, n, sizeof(ptr[0]), cmp_names);
	for (i = 0; i < n; i++)
		strcpy(names[i], ptr[i]);
	return n;
}

/* Sorted user.* names and values as one string; length or -errno. */
static int xattr_summary(const char *path, char *out, size_t cap)
{
	char list[4096], *ptr[64], val[1100];
	ssize_t n = llistxattr(path, list, sizeof(list)), v;
	size_t len = 0;
	int cnt = 0, i;
	char *p;

	if (n < 0)
		return -errno;
	for (p = list; p < list + n && cnt < 64; p += strlen(p) + 1)
		if (!strncmp(p, "user.", 5))
			ptr[cnt++] = p;
	qsort(ptr, cnt, sizeof(ptr[0]), cmp_names);
	for (i = 0; i < cnt; i++) {
		v = lgetxattr(path, ptr[i], val, sizeof(val));
		if (v < 0)
			return -errno;
		len += snprintf(out + len, cap - len, "%s=%016llx/%zd;",
				ptr[i], (unsigned long long)
				hash_bytes(0, val, v), v);
		if (len >= cap)
			return -E2BIG;
	}
	out[len] = '\0';
	return (int)len;
}

/* 0 when the regular files @a and @b hold the same bytes. */
static int same_contents(const char *a, const char *b, off_t size)
{
	static char ba[65536], bb[65536];
	int fa = open(a, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
	int fb = open(b, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
	off_t off = 0;
	int rc = 0;

	if (fa < 0 || fb < 0) {
		rc = differ("cannot open for compare: %s", mt_errname(errno));
		goto out;
	}
	while (off <= size) {
		ssize_t na = pread(fa, ba, sizeof(ba), off);
		ssize_t nb = pread(fb, bb, sizeof(bb), off);

		if (na != nb || na < 0) {
			rc = differ("read at %lld returned %zd (test) vs %zd "
				    "(ref)", (long long)off, na, nb);
			goto out;
		}
		if (na == 0)
			break;
		if (memcmp(ba, bb, na)) {
			ssize_t i = 0;

			while (ba[i] == bb[i])
				i++;
			rc = differ("contents differ at offset %lld: %#x "
				    "(test) vs %#x (ref)",
				    (long long)(off + i), (unsigned char)ba[i],
				    (unsigned char)bb[i]);
			goto out;
		}
		off += na;
	}
out:
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	return rc;
}

/* Compare one name on both sides (a directory's entries, not below). */
static int compare_node(const char *rel)
{
	char pt[PATH_MAX], pr[PATH_MAX], lt[PATH_MAX], lr[PATH_MAX];
	static char nt[64][PLEN], nr[64][PLEN];
	char xt[2048], xr[2048];
	struct stat st, sr;
	int et, er, n, m, i;
	ssize_t a, b;

	full_path(&test_side, rel, pt);
	full_path(&ref_side, rel, pr);
	et = lstat(pt, &st) < 0 ? errno : 0;
	er = lstat(pr, &sr) < 0 ? errno : 0;
	if (et || er) {
		if (et != er)
			return differ("%s: lstat gives %s (test) vs %s (ref)",
				      rel, mt_errname(et), mt_errname(er));
		return 0;
	}
	if (st.st_mode != sr.st_mode)
		return differ("%s: mode %o (test) vs %o (ref)", rel,
			      st.st_mode, sr.st_mode);
	if (st.st_uid != sr.st_uid || st.st_gid != sr.st_gid)
		return differ("%s: owner %d:%d (test) vs %d:%d (ref)", rel,
			      (int)st.st_uid, (int)st.st_gid, (int)sr.st_uid,
			      (int)sr.st_gid);
	if (st.st_nlink != sr.st_nlink)
		return differ("%s: nlink %lu (test) vs %lu (ref)", rel,
			      (unsigned long)st.st_nlink,
			      (unsigned long)sr.st_nlink);
	if (!S_ISDIR(st.st_mode) && st.st_size != sr.st_size)
		return differ("%s: size %lld (test) vs %lld (ref)", rel,
			      (long long)st.st_size, (long long)sr.st_size);
	if (S_ISLNK(st.st_mode)) {
		a = readlink(pt, lt, sizeof(lt));
		b = readlink(pr, lr, sizeof(lr));
		if (a != b || a < 0 || memcmp(lt, lr, a))
			return differ("%s: symlink targets differ", rel);
	}
	if (S_ISREG(st.st_mode) && same_contents(pt, pr, st.st_size) < 0) {
		char why[sizeof(mismatch) - TLEN / 2];

		memcpy(why, mismatch, sizeof(why) - 1);
		why[sizeof(why) - 1] = '\0';
		return differ("%s: %s", rel, why);
	}
	if (S_ISDIR(st.st_mode)) {
		n = list_dir(pt, nt, 64);
		m = list_dir(pr, nr, 64);
		if (n != m)
			return differ("%s: %d entries (test) vs %d (ref)", rel,
				      n, m);
		for (i = 0; i < n; i++)
			if (strcmp(nt[i], nr[i]))
				return differ("%s: entry '%s' (test) vs '%s' "
					      "(ref)", rel, nt[i], nr[i]);
	}
	a = xattr_summary(pt, xt, sizeof(xt));
	b = xattr_summary(pr, xr, sizeof(xr));
	if (a != b || (a > 0 && strcmp(xt, xr)))
		return differ("%s: user xattrs '%s' (test) vs '%s' (ref)",
			      rel, a < 0 ? mt_errname(-a) : xt,
			      b < 0 ? mt_errname(-b) : xr);
	return 0;
}

/* Hard-link identity: the first path seen for each inode, per side. */
struct inode_map {
	ino_t ino[256];
	char path[256][TLEN];
	int n;
};

static const char *inode_first(struct inode_map *m, ino_t ino,
			       const char *rel)
{
	int i;

	for (i = 0; i < m->n; i++)
		if (m->ino[i] == ino)
			return m->path[i];
	if (m->n < 256) {
		m->ino[m->n] = ino;
		strcpy(m->path[m->n++], rel);
	}
	return rel;
}

static int compare_tree(const char *rel, struct inode_map *mt,
			struct inode_map *mr)
{
	char pt[PATH_MAX], pr[PATH_MAX], child[TLEN];
	char (*names)[PLEN];
	struct stat st, sr;
	int n, i, rc = 0;

	if (compare_node(*rel ? rel : ".") < 0)
		return -1;
	full_path(&test_side, rel, pt);
	full_path(&ref_side, rel, pr);
	if (lstat(pt, &st) < 0 || lstat(pr, &sr) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode)) {
		if (st.st_nlink > 1 && strcmp(inode_first(mt, st.st_ino, rel),
					      inode_first(mr, sr.st_ino, rel)))
			return differ("%s: hard-linked to %s (test) but to %s "
				      "(ref)", rel,
				      inode_first(mt, st.st_ino, rel),
				      inode_first(mr, sr.st_ino, rel));
		return 0;
	}
	/* Renames move subtrees below the generated depth; a path that no
	 * longer fits is reported rather than cut short. */
	names = malloc(64 * sizeof(*names));
	if (!names)
		return differ("out of memory");
	n = list_dir(pt, names, 64);
	for (i = 0; i < n && rc == 0; i++) {
		if (strlen(rel) + strlen(names[i]) + 2 > TLEN)
			rc = differ("%s/%s: path too long to compare", rel,
				    names[i]);
		else {
			strcpy(child, rel);
			if (*rel)
				strcat(child, "/");
			strcat(child, names[i]);
			rc = compare_tree(child, mt, mr);
		}
	}
	free(names);
	return rc;
}

static void parent_of(const char *rel, char *out)
{
	const char *slash = strrchr(rel, '/');

	if (!slash)
		strcpy(out, ".");
	else
		snprintf(out, PLEN, "%.*s", (int)(slash - rel), rel);
}

static int compare_times(const struct op *o)
{
	char pt[PATH_MAX], pr[PATH_MAX];
	struct stat st, sr;
	int k, rt, rr;

	full_path(&test_side, o->p, pt);
	full_path(&ref_side, o->p, pr);
	if (o->flags & AT_SYMLINK_NOFOLLOW) {
		rt = lstat(pt, &st);
		rr = lstat(pr, &sr);
	} else {
		rt = stat(pt, &st);
		rr = stat(pr, &sr);
	}
	/* Both UTIME_OMIT succeeds without even looking the path up. */
	if (rt < 0 && rr < 0)
		return 0;
	if (rt < 0 || rr < 0)
		return differ("%s: stat after utimens fails on one side", o->p);
	for (k = 0; k < 2; k++) {
		struct timespec a = k ? st.st_mtim : st.st_atim;
		struct timespec b = k ? sr.st_mtim : sr.st_atim;

		if (o->ts[k].tv_nsec == UTIME_OMIT ||
		    o->ts[k].tv_nsec == UTIME_NOW)
			continue;
		if (mt_ts_cmp(a, b))
			return differ("%s: %s %lld.%09ld (test) vs %lld.%09ld "
				      "(ref) after setting it", o->p,
				      k ? "mtime" : "atime",
				      (long long)a.tv_sec, a.tv_nsec,
				      (long long)b.tv_sec, b.tv_nsec);
	}
	return 0;
}

static void report(long step, const char *what)
{
	long i, first = hist_step > HIST ? hist_step - HIST : 0;

	printf("# random ops: MISMATCH at step %ld (seed %llu, case %u): %s\n",
	       step, base_seed, case_no, what);
	printf("# reproduce with MIXFS_SEED=%llu; the last operations "
	       "(result test / ref):\n", base_seed);
	for (i = first; i < hist_step; i++)
		printf("#   %s\n", history[i % HIST]);
	fflush(stdout);
	fail_msg("step %ld (seed %llu): %s", step, base_seed, what);
}

/* Steps per case: the total of the run, shared by the two cases. */
static long steps_to_run(void)
{
	const char *s = getenv("MIXFS_RANDOM_STEPS");
	const char *lng = getenv("MIXFS_LONG");
	long total;

	if (s && *s)
		total = atol(s);
	else
		total = lng && !strcmp(lng, "1") ? 1000000 : 10000;
	return total > 1 ? total / 2 : 1;
}

static void make_ref_root(void)
{
	snprintf(ref_side.root, sizeof(ref_side.root), "%s/%s.%d.%u",
		 ref_base, program_invocation_short_name, (int)getpid(),
		 case_no);
	if (mkdir(ref_side.root, 0755) < 0 || chmod(ref_side.root, 0755) < 0)
		fail_msg("cannot make reference directory %s: %s",
			 ref_side.root, mt_errname(errno));
}

static void run_sequence(const int *mix)
{
	static struct inode_map mt_map, mr_map;
	struct inode_map *mt = &mt_map, *mr = &mr_map;
	long step, nsteps = steps_to_run();
	struct res a, b;
	struct op o;
	char desc[256], touched[4][PLEN];
	int i, k, nt;

	long tried[OP_COUNT] = { 0 }, worked[OP_COUNT] = { 0 };
	char line[1024];
	size_t len;

	case_no++;
	rng_state = (base_seed + case_no) * 0x9e3779b97f4a7c15ull | 1;
	snprintf(test_side.root, sizeof(test_side.root), "%s",
		 mt_case_dir());
	make_ref_root();
	memset(slot_path, 0, sizeof(slot_path));
	for (i = 0; i < NSLOT; i++)
		test_side.fd[i] = ref_side.fd[i] = -1;
	hist_step = 0;
	for (step = 0; step < nsteps; step++) {
		gen_op(&o, mix);
		describe(&o, desc, sizeof(desc));
		a = run_op(&test_side, &o);
		b = run_op(&ref_side, &o);
		snprintf(history[hist_step % HIST], sizeof(history[0]),
			 "%ld: %s -> %ld %s / %ld %s", step, desc, a.ret,
			 mt_errname(a.err), b.ret, mt_errname(b.err));
		hist_step++;
		if (a.ret != b.ret || a.err != b.err)
			report(step, "results differ");
		if (a.sum != b.sum)
			report(step, "data returned differs");
		tried[o.kind]++;
		worked[o.kind] += a.err == 0;
		/* Before anything reads the file and moves its atime. */
		if (o.kind == OP_UTIMENS && a.ret == 0 && compare_times(&o) < 0)
			report(step, mismatch);
		if (o.kind == OP_OPEN)
			strcpy(slot_path[o.slot], o.p);
		/* The names this step may have changed. */
		nt = 0;
		if (o.kind >= OP_FDWRITE) {
			if (slot_path[o.slot][0])
				strcpy(touched[nt++], slot_path[o.slot]);
		} else {
			strcpy(touched[nt++], o.p);
			parent_of(o.p, touched[nt++]);
			if (o.kind == OP_RENAME || o.kind == OP_LINK) {
				strcpy(touched[nt++], o.q);
				parent_of(o.q, touched[nt++]);
			}
		}
		for (k = 0; k < nt; k++)
			if (compare_node(touched[k]) < 0)
				report(step, mismatch);
		if (step % 100 == 99 || step == nsteps - 1) {
			mt->n = mr->n = 0;
			if (compare_tree("", mt, mr) < 0)
				report(step, mismatch);
		}
	}
	/* How many operations succeeded shows how much was exercised. */
	len = snprintf(line, sizeof(line), "# case %u, succeeded/tried:",
		       case_no);
	for (i = 0; i < OP_COUNT; i++)
		len += snprintf(line + len, sizeof(line) - len, " %s %ld/%ld",
				op_names[i], worked[i], tried[i]);
	printf("%s\n", line);
}

/* Also after a failure: close the slots, remove the reference tree. */
static int case_teardown(void **state)
{
	int i, r;

	for (i = 0; i < NSLOT; i++) {
		if (test_side.fd[i] >= 0)
			close(test_side.fd[i]);
		if (ref_side.fd[i] >= 0)
			close(ref_side.fd[i]);
		test_side.fd[i] = ref_side.fd[i] = -1;
	}
	r = ref_side.root[0] ? mt_rm_tree(ref_side.root) : 0;
	ref_side.root[0] = '\0';
	return mt_case_teardown(state) < 0 || r < 0 ? -1 : 0;
}

static void namespace_ops_match_reference(void **state)
{
	(void)state;
	run_sequence(mix_namespace);
}

static void data_ops_match_reference(void **state)
{
	(void)state;
	run_sequence(mix_data);
}

static int group_setup(void **state)
{
	const char *ref = getenv("MIXFS_REF_DIR");
	const char *seed = getenv("MIXFS_SEED");
	const char *tmp = getenv("TMPDIR");

	(void)state;
	if (ref && *ref) {
		snprintf(ref_base, sizeof(ref_base), "%s", ref);
	} else {
		snprintf(ref_base, sizeof(ref_base), "%s/mixfs-ref.XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(ref_base)) {
			fprintf(stderr, "cannot make a reference directory "
				"%s: %s\n", ref_base, strerror(errno));
			return -1;
		}
		ref_base_is_temp = 1;
	}
	if (seed && *seed)
		base_seed = strtoull(seed, NULL, 0);
	else
		base_seed = (unsigned long long)time(NULL) ^
			    ((unsigned long long)getpid() << 32);
	printf("# random ops: seed %llu, %ld steps per case, test %s, "
	       "reference %s\n", base_seed, steps_to_run(), mt_base(),
	       ref_base);
	fflush(stdout);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (ref_base_is_temp)
		return mt_rm_tree(ref_base) < 0 ? -1 : 0;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(namespace_ops_match_reference,
						mt_case_setup, case_teardown),
		cmocka_unit_test_setup_teardown(data_ops_match_reference,
						mt_case_setup, case_teardown),
	};

	mt_base();
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
