/*
 * journal.c - run operations on the tree under test, record them and
 * their results, and replay the record into a model after a crash.
 *
 * The operations are done with plain system calls on paths, a new
 * descriptor for each, so that nothing the workload holds open keeps the
 * kernel or the daemon from forgetting anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

bool crash_power_loss;
atomic_bool crash_cut_started;

bool crash_gone(long ret)
{
	return ret == -ENOTCONN || ret == -ECONNABORTED || ret == -EIO ||
	       ret == -ECANCELED || (crash_power_loss && ret == -EROFS);
}

/* Not in every linux/fs.h yet; the value ext4, XFS and f2fs share. */
#ifndef FS_IOC_SHUTDOWN
#define FS_IOC_SHUTDOWN			_IOR('X', 125, uint32_t)
#endif
#define CRASH_SHUTDOWN_NOLOGFLUSH	0x2

int crash_shutdown(const char *dir)
{
	uint32_t how = CRASH_SHUTDOWN_NOLOGFLUSH;
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, FS_IOC_SHUTDOWN, &how))
		ret = -errno;
	close(fd);
	return ret;
}

struct cut {
	const char *dir;
	unsigned ms;
};

static void *cut_thread(void *arg)
{
	struct cut c = *(struct cut *)arg;
	struct timespec ts = { c.ms / 1000, (long)(c.ms % 1000) * 1000000 };

	free(arg);
	nanosleep(&ts, NULL);
	atomic_store(&crash_cut_started, true);
	crash_shutdown(c.dir);
	return NULL;
}

int crash_cut_after(const char *dir, unsigned ms)
{
	struct cut *c = malloc(sizeof(*c));
	pthread_t t;
	int ret;

	if (!c)
		return -ENOMEM;
	c->dir = dir;
	c->ms = ms;
	ret = pthread_create(&t, NULL, cut_thread, c);
	if (ret) {
		free(c);
		return -ret;
	}
	pthread_detach(t);
	return 0;
}

int journal_open(struct journal *j, const char *path, const char *root,
		 FILE *log)
{
	memset(j, 0, sizeof(*j));
	j->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, 0644);
	if (j->fd < 0)
		return -errno;
	j->root = root;
	j->rootfd = -1;
	j->log = log;
	j->m = model_new();
	return 0;
}

void journal_close(struct journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	if (j->rootfd >= 0)
		close(j->rootfd);
	j->fd = -1;
	j->rootfd = -1;
	model_free(j->m);
	j->m = NULL;
}

void journal_printf(struct journal *j, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line: a line is either whole in the journal or
	 * absent, and O_APPEND keeps lines in order. */
	if (write(j->fd, line, n) != n)
		abort();
}

int journal_sync(struct journal *j)
{
	return fsync(j->fd) ? -errno : 0;
}

static int sync_path(int dirfd, const char *path, bool data_only)
{
	int fd = openat(dirfd, path, O_RDONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (data_only ? fdatasync(fd) : fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

int journal_begin(struct journal *j)
{
	char parent[PATH_MAX];
	int ret;

	if (mkdir(j->root, 0755))
		return -errno;
	snprintf(parent, sizeof(parent), "%s", j->root);
	ret = sync_path(AT_FDCWD, j->root, false);
	if (!ret)
		ret = sync_path(AT_FDCWD, dirname(parent), false);
	if (ret)
		return ret;
	j->rootfd = open(j->root, O_RDONLY | O_DIRECTORY);
	if (j->rootfd < 0)
		return -errno;
	journal_printf(j, "B");
	return journal_sync(j);
}

static long do_write(int dirfd, const char *path, const struct cop_rec *op)
{
	unsigned char *buf = malloc(op->len ? op->len : 1);
	size_t done = 0;
	long ret = 0;
	int fd;

	if (!buf)
		abort();
	crash_data_fill(op->seed, op->off, buf, op->len);
	fd = openat(dirfd, path, O_WRONLY);
	if (fd < 0) {
		ret = -errno;
		goto out_free;
	}
	while (done < op->len) {
		ssize_t n = pwrite(fd, buf + done, op->len - done,
				   (off_t)(op->off + done));

		if (n < 0) {
			ret = -errno;
			break;
		}
		done += (size_t)n;
	}
	if (!ret)
		ret = (long)done;
	close(fd);
out_free:
	free(buf);
	return ret;
}

/* Do @op in the tree open at @dirfd; *@ino gets the inode create and
 * mkdir made. */
static long exec_op(int dirfd, const struct cop_rec *op, uint64_t *ino)
{
	const char *p = op->path, *p2 = op->path2;
	struct stat st;
	long ret = 0;
	int fd;

	*ino = 0;
	switch (op->op) {
	case COP_CREATE:
		fd = openat(dirfd, p, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			return -errno;
		if (!fstat(fd, &st))
			*ino = st.st_ino;
		close(fd);
		return 0;
	case COP_MKDIR:
		if (mkdirat(dirfd, p, 0755))
			return -errno;
		if (!fstatat(dirfd, p, &st, AT_SYMLINK_NOFOLLOW))
			*ino = st.st_ino;
		return 0;
	case COP_RMDIR:
		ret = unlinkat(dirfd, p, AT_REMOVEDIR);
		break;
	case COP_UNLINK:
		ret = unlinkat(dirfd, p, 0);
		break;
	case COP_LINK:
		ret = linkat(dirfd, p, dirfd, p2, 0);
		break;
	case COP_RENAME:
		ret = renameat(dirfd, p, dirfd, p2);
		break;
	case COP_WRITE:
		return do_write(dirfd, p, op);
	case COP_TRUNCATE:
		fd = openat(dirfd, p, O_WRONLY);
		if (fd < 0)
			return -errno;
		ret = ftruncate(fd, (off_t)op->off);
		if (ret)
			ret = -errno;
		close(fd);
		return ret;
	case COP_FSYNC:
	case COP_FDATASYNC:
		return sync_path(dirfd, p, op->op == COP_FDATASYNC);
	default:
		return -EINVAL;
	}
	return ret ? -errno : 0;
}

static void errstr(long ret, char *buf, size_t size)
{
	if (ret >= 0)
		snprintf(buf, size, "%ld", ret);
	else
		snprintf(buf, size, "-%s", strerrorname_np((int)-ret) ?
			 strerrorname_np((int)-ret) : "?");
}

long journal_run(struct journal *j, const struct cop_rec *op)
{
	char line[CRASH_PATH_MAX * 2 + 64], got[32], want[32];
	long expect = model_predict(j->m, op);
	uint64_t ino;
	long ret;

	j->step++;
	cop_format(op, line, sizeof(line));
	journal_printf(j, "I %" PRIu64 " %s", j->step, line);
	ret = exec_op(j->rootfd, op, &ino);
	if (atomic_load(&crash_cut_started))
		ret = -ECANCELED;	/* see crash_cut_started */
	journal_printf(j, "R %" PRIu64 " %ld %" PRIu64, j->step, ret, ino);
	if (crash_gone(ret)) {
		j->gone = true;
		model_apply_maybe(j->m, op, j->step);
		return ret;
	}
	if ((ret >= 0) != (expect >= 0)) {
		errstr(ret, got, sizeof(got));
		errstr(expect, want, sizeof(want));
		j->mismatches++;
		if (j->log)
			fprintf(j->log, "step %" PRIu64 ": %s returned %s; "
				"POSIX says %s\n", j->step, line, got, want);
		return ret;
	}
	if (ret < 0)
		return ret;
	if ((op->op == COP_FSYNC || op->op == COP_FDATASYNC) &&
	    journal_sync(j))
		abort();
	model_apply(j->m, op, ret, ino, j->step);
	return ret;
}

/* --- replay ---------------------------------------------------------------- */

static int parse_intent(char *s, struct cop_rec *op)
{
	char name[32];
	unsigned long long a, b, c;
	int n, k;

	memset(op, 0, sizeof(*op));
	if (sscanf(s, "%31s %n", name, &n) != 1 || (k = cop_parse(name)) < 0)
		return -EBADMSG;
	op->op = (enum cop)k;
	s += n;
	switch (op->op) {
	case COP_LINK:
	case COP_RENAME:
		if (sscanf(s, "%255s %255s", op->path, op->path2) != 2)
			return -EBADMSG;
		return 0;
	case COP_WRITE:
		if (sscanf(s, "%255s %llu %llu %llu", op->path, &a, &b,
			   &c) != 4)
			return -EBADMSG;
		op->off = a;
		op->len = b;
		op->seed = c;
		return 0;
	case COP_TRUNCATE:
		if (sscanf(s, "%255s %llu", op->path, &a) != 2)
			return -EBADMSG;
		op->off = a;
		return 0;
	default:
		return sscanf(s, "%255s", op->path) == 1 ? 0 : -EBADMSG;
	}
}

int journal_replay(const char *path, struct model *m, struct replay *r,
		   FILE *out)
{
	FILE *f = fopen(path, "r");
	char line[CRASH_PATH_MAX * 2 + 128], got[32], want[32];
	struct cop_rec op;
	bool pending = false, diverged = false;
	uint64_t step = 0;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, ino;
		long res;
		int n;

		line[strcspn(line, "\n")] = 0;
		if (line[0] == 'B') {
			r->began = true;
		} else if (line[0] == 'E') {
			r->ended = true;
		} else if (line[0] == 'I') {
			if (pending)
				model_apply_maybe(m, &op, step);
			if (sscanf(line, "I %llu %n", &s, &n) != 1 ||
			    parse_intent(line + n, &op)) {
				ret = -EBADMSG;
				break;
			}
			step = s;
			pending = true;
			r->steps++;
			r->last_step = step;
			snprintf(r->last_op, sizeof(r->last_op), "%s",
				 line + n);
		} else if (line[0] == 'R') {
			if (sscanf(line, "R %llu %ld %llu", &s, &res, &ino) != 3 ||
			    !pending || s != step) {
				ret = -EBADMSG;
				break;
			}
			pending = false;
			if (diverged)
				continue;
			if (crash_gone(res) || r->gone) {
				r->gone = true;
				model_apply_maybe(m, &op, step);
				continue;
			}
			long expect = model_predict(m, &op);

			if ((res >= 0) != (expect >= 0)) {
				errstr(res, got, sizeof(got));
				errstr(expect, want, sizeof(want));
				r->mismatches++;
				fprintf(out, "step %llu: %s returned %s; POSIX "
					"says %s\n", s, r->last_op, got, want);
				/* The model no longer follows the tree. */
				diverged = res >= 0;
				continue;
			}
			if (res >= 0)
				model_apply(m, &op, res, ino, step);
		} else if (line[0] != '#' && line[0] != 0) {
			ret = -EBADMSG;
			break;
		}
	}
	if (!ret && pending && !diverged)
		model_apply_maybe(m, &op, step);
	fclose(f);
	return ret;
}
