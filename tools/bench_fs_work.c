/*
 * bench_fs_work.c - the workloads of `mixfs bench fs`.
 *
 * Each workload works inside ctx->dir, times its phases with
 * bfs_phase_begin()/bfs_phase_end(), and asks for a cold cache with
 * bfs_cold() before a phase that reads back what an earlier one wrote. It
 * checks that what it reads is there (right sizes, right counts) so that a
 * filesystem cannot look fast by losing data, but it does not compare
 * contents byte by byte: that is the tests' job, not a benchmark's.
 *
 * File data is pseudo-random, so a store that compresses gains nothing.
 * Random offsets come from a fixed seed: every target sees the same
 * sequence.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/bench_fs.h"

#define MIB		(1024.0 * 1024.0)
#define CHUNK		(1u << 20)	/* sequential request size */
#define BLOCK		4096u		/* random I/O and small-file size */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* A buffer of @size pseudo-random bytes, aligned for O_DIRECT. */
static void *random_buf(size_t size, uint64_t seed)
{
	uint64_t *p;

	if (posix_memalign((void **)&p, 4096, size))
		return NULL;
	for (size_t i = 0; i < size / 8; i++)
		p[i] = rng_next(&seed);
	return p;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR && !bfs_interrupted)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int check_stop(struct bfs_ctx *ctx)
{
	return bfs_interrupted ? bfs_fail(ctx, -EINTR, "interrupted") : 0;
}

/* --- seq: sequential write with fsync, cold sequential read ------------ */

static int seq_run(struct bfs_ctx *ctx)
{
	uint64_t size = ctx->cfg->seq_bytes, done = 0;
	char path[PATH_MAX + 16];
	char *buf = random_buf(CHUNK, 1);
	int fd, ret = 0;
	ssize_t n;

	if (!buf)
		return bfs_fail(ctx, -ENOMEM, "no memory for the buffer");
	bfs_fmt(path, sizeof(path), "%s/seq", ctx->dir);
	bfs_phase_begin(ctx, 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		ret = bfs_fail(ctx, -errno, "creating %s: %m", path);
		goto out_free;
	}
	for (done = 0; done < size && !ret; done += CHUNK) {
		ret = write_all(fd, buf, CHUNK);
		if (ret)
			bfs_fail(ctx, ret, "writing %s at %llu: %s", path,
				 (unsigned long long)done, strerror(-ret));
		else
			ret = check_stop(ctx);
	}
	if (!ret && fsync(fd) < 0)
		ret = bfs_fail(ctx, -errno, "fsync of %s: %m", path);
	if (close(fd) < 0 && !ret)
		ret = bfs_fail(ctx, -errno, "closing %s: %m", path);
	if (ret)
		goto out_free;
	bfs_phase_end(ctx, (double)size / MIB);

	ret = bfs_cold(ctx);
	if (ret)
		goto out_free;
	bfs_phase_begin(ctx, 1);
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		ret = bfs_fail(ctx, -errno, "opening %s: %m", path);
		goto out_free;
	}
	done = 0;
	while ((n = read(fd, buf, CHUNK)) > 0 && !bfs_interrupted)
		done += (uint64_t)n;
	if (n < 0)
		ret = bfs_fail(ctx, -errno, "reading %s: %m", path);
	else if (!bfs_interrupted && done != size)
		ret = bfs_fail(ctx, -EIO, "read %llu bytes back from %s, wrote %llu",
			       (unsigned long long)done, path,
			       (unsigned long long)size);
	close(fd);
	if (!ret)
		ret = check_stop(ctx);
	if (!ret)
		bfs_phase_end(ctx, (double)size / MIB);
out_free:
	free(buf);
	return ret;
}

/* --- rand: 4 KiB random writes and reads, buffered and synchronous ----- */

/*
 * pwrite or pread random 4 KiB blocks of @fd for ctx->cfg->seconds; the
 * number done goes to *ops.
 */
static int rand_loop(struct bfs_ctx *ctx, int fd, bool wr, char *buf,
		     uint64_t *ops)
{
	uint64_t blocks = ctx->cfg->rand_bytes / BLOCK, seed = 12345, n = 0;
	double end = bfs_now() + ctx->cfg->seconds;

	do {
		/* Check the clock every 64 operations: cheap and close enough. */
		for (int i = 0; i < 64; i++, n++) {
			off_t off = (off_t)(rng_next(&seed) % blocks) * BLOCK;
			ssize_t r = wr ? pwrite(fd, buf, BLOCK, off)
				       : pread(fd, buf, BLOCK, off);

			if (r != (ssize_t)BLOCK)
				return bfs_fail(ctx, r < 0 ? -errno : -EIO,
					"%s of 4 KiB at %lld: %s",
					wr ? "pwrite" : "pread", (long long)off,
					r < 0 ? strerror(errno) : "short");
		}
		if (bfs_interrupted)
			return bfs_fail(ctx, -EINTR, "interrupted");
	} while (bfs_now() < end);
	*ops = n;
	return 0;
}

static int rand_run(struct bfs_ctx *ctx)
{
	static const struct { bool wr; int flags; } phase[] = {
		{ true, 0 }, { true, O_DSYNC }, { false, 0 }, { false, O_DIRECT },
	};
	uint64_t size = ctx->cfg->rand_bytes, ops = 0;
	char path[PATH_MAX + 16];
	char *buf = random_buf(CHUNK, 2);
	int fd, ret = 0;

	if (!buf)
		return bfs_fail(ctx, -ENOMEM, "no memory for the buffer");
	bfs_fmt(path, sizeof(path), "%s/rand", ctx->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		ret = bfs_fail(ctx, -errno, "creating %s: %m", path);
		goto out_free;
	}
	for (uint64_t done = 0; done < size && !ret; done += CHUNK)
		ret = write_all(fd, buf, CHUNK);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	if (ret) {
		bfs_fail(ctx, ret, "filling %s: %s", path, strerror(-ret));
		goto out_free;
	}
	for (int p = 0; p < 4 && !ret; p++) {
		fd = open(path, (phase[p].wr ? O_WRONLY : O_RDONLY) |
			  phase[p].flags);
		if (fd < 0) {
			ret = bfs_fail(ctx, -errno, "opening %s%s: %m", path,
				       phase[p].flags == O_DIRECT ? " with O_DIRECT" :
				       phase[p].flags ? " with O_DSYNC" : "");
			break;
		}
		bfs_phase_begin(ctx, p);
		ret = rand_loop(ctx, fd, phase[p].wr, buf, &ops);
		if (!ret)
			bfs_phase_end(ctx, (double)ops);
		/* Buffered writes are flushed outside the timing, so the
		 * next phase does not pay for them. */
		if (!ret && phase[p].wr && fsync(fd) < 0)
			ret = bfs_fail(ctx, -errno, "fsync of %s: %m", path);
		close(fd);
	}
out_free:
	free(buf);
	return ret;
}

/* --- meta: create, stat, readdir, unlink in one directory -------------- */

#define READDIR_PASSES 10

static int meta_run(struct bfs_ctx *ctx)
{
	unsigned n = ctx->cfg->meta_files;
	char dir[PATH_MAX], path[PATH_MAX + 32];
	struct stat st;
	int ret = 0;

	bfs_fmt(dir, sizeof(dir), "%s/meta", ctx->dir);
	if (mkdir(dir, 0755) < 0)
		return bfs_fail(ctx, -errno, "mkdir %s: %m", dir);

	bfs_phase_begin(ctx, 0);
	for (unsigned i = 0; i < n && !ret; i++) {
		int fd;

		bfs_fmt(path, sizeof(path), "%s/file-%06u", dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			return bfs_fail(ctx, -errno, "creating %s: %m", path);
		close(fd);
		ret = check_stop(ctx);
	}
	if (ret)
		return ret;
	bfs_phase_end(ctx, n);

	bfs_phase_begin(ctx, 1);
	for (unsigned i = 0; i < n && !ret; i++) {
		bfs_fmt(path, sizeof(path), "%s/file-%06u", dir, i);
		if (stat(path, &st) < 0)
			return bfs_fail(ctx, -errno, "stat %s: %m", path);
		ret = check_stop(ctx);
	}
	if (ret)
		return ret;
	bfs_phase_end(ctx, n);

	bfs_phase_begin(ctx, 2);
	for (int pass = 0; pass < READDIR_PASSES && !ret; pass++) {
		DIR *d = opendir(dir);
		struct dirent *de;
		unsigned seen = 0;

		if (!d)
			return bfs_fail(ctx, -errno, "opendir %s: %m", dir);
		errno = 0;
		while ((de = readdir(d)))
			seen += de->d_name[0] != '.';
		ret = errno ? -errno : 0;
		closedir(d);
		if (ret)
			return bfs_fail(ctx, ret, "readdir %s: %s", dir,
					strerror(-ret));
		if (seen != n)
			return bfs_fail(ctx, -EIO, "readdir of %s saw %u names, created %u",
					dir, seen, n);
		ret = check_stop(ctx);
	}
	if (ret)
		return ret;
	bfs_phase_end(ctx, (double)n * READDIR_PASSES);

	bfs_phase_begin(ctx, 3);
	for (unsigned i = 0; i < n && !ret; i++) {
		bfs_fmt(path, sizeof(path), "%s/file-%06u", dir, i);
		if (unlink(path) < 0)
			return bfs_fail(ctx, -errno, "unlink %s: %m", path);
		ret = check_stop(ctx);
	}
	if (ret)
		return ret;
	bfs_phase_end(ctx, n);
	return 0;
}

/* --- small: many 4 KiB files over many directories, read back cold ----- */

static int small_run(struct bfs_ctx *ctx)
{
	unsigned n = ctx->cfg->small_files, nd = ctx->cfg->small_dirs;
	char path[PATH_MAX + 32];
	char *buf = random_buf(BLOCK, 3);
	int fd, ret = 0;

	if (!buf)
		return bfs_fail(ctx, -ENOMEM, "no memory for the buffer");
	bfs_phase_begin(ctx, 0);
	for (unsigned d = 0; d < nd && !ret; d++) {
		bfs_fmt(path, sizeof(path), "%s/d%03u", ctx->dir, d);
		if (mkdir(path, 0755) < 0)
			ret = bfs_fail(ctx, -errno, "mkdir %s: %m", path);
	}
	for (unsigned i = 0; i < n && !ret; i++) {
		bfs_fmt(path, sizeof(path), "%s/d%03u/f%06u", ctx->dir,
			 i % nd, i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0) {
			ret = bfs_fail(ctx, -errno, "creating %s: %m", path);
			break;
		}
		ret = write_all(fd, buf, BLOCK);
		if (ret)
			bfs_fail(ctx, ret, "writing %s: %s", path,
				 strerror(-ret));
		close(fd);
		if (!ret)
			ret = check_stop(ctx);
	}
	/* The phase ends when the files are durable. */
	if (!ret) {
		fd = open(ctx->dir, O_RDONLY | O_DIRECTORY);
		if (fd < 0 || syncfs(fd) < 0)
			ret = bfs_fail(ctx, -errno, "syncfs on %s: %m", ctx->dir);
		if (fd >= 0)
			close(fd);
	}
	if (ret)
		goto out_free;
	bfs_phase_end(ctx, n);

	ret = bfs_cold(ctx);
	if (ret)
		goto out_free;
	bfs_phase_begin(ctx, 1);
	for (unsigned i = 0; i < n && !ret; i++) {
		ssize_t r;

		bfs_fmt(path, sizeof(path), "%s/d%03u/f%06u", ctx->dir,
			 i % nd, i);
		fd = open(path, O_RDONLY);
		if (fd < 0) {
			ret = bfs_fail(ctx, -errno, "opening %s: %m", path);
			break;
		}
		r = read(fd, buf, BLOCK);
		if (r != (ssize_t)BLOCK)
			ret = bfs_fail(ctx, r < 0 ? -errno : -EIO,
				       "reading %s: %s", path,
				       r < 0 ? strerror(errno) : "short read");
		close(fd);
		if (!ret)
			ret = check_stop(ctx);
	}
	if (!ret)
		bfs_phase_end(ctx, n);
out_free:
	free(buf);
	return ret;
}

/* --- untar: extract /usr/include, du -s cold, rm -rf ------------------- */

static int untar_run(struct bfs_ctx *ctx)
{
	char dir[PATH_MAX + 16];
	char *tar[] = { "tar", "-xf", (char *)ctx->cfg->tarball, "-C", dir, NULL };
	char *du[] = { "du", "-s", dir, NULL };
	char *rm[] = { "rm", "-rf", dir, NULL };
	double entries = ctx->cfg->tar_entries;
	int ret;

	bfs_fmt(dir, sizeof(dir), "%s/untar", ctx->dir);
	if (mkdir(dir, 0755) < 0)
		return bfs_fail(ctx, -errno, "mkdir %s: %m", dir);
	bfs_phase_begin(ctx, 0);
	ret = bfs_run(ctx, tar);
	if (ret)
		return ret;
	bfs_phase_end(ctx, entries);

	ret = bfs_cold(ctx);
	if (ret)
		return ret;
	bfs_phase_begin(ctx, 1);
	ret = bfs_run(ctx, du);
	if (ret)
		return ret;
	bfs_phase_end(ctx, entries);

	bfs_phase_begin(ctx, 2);
	ret = bfs_run(ctx, rm);
	if (ret)
		return ret;
	bfs_phase_end(ctx, entries);
	if (access(dir, F_OK) == 0 || errno != ENOENT)
		return bfs_fail(ctx, -EIO, "%s is still there after rm -rf", dir);
	return 0;
}

/* --- git: a commit loop's file traffic ---------------------------------- */

/*
 * What `git commit -a` after editing a few files does to a filesystem:
 * editors save by writing a new file and renaming it over the old one;
 * `git add` writes each changed file as a loose object (a temporary file
 * renamed into objects/xx/); the index is rewritten through index.lock,
 * fsynced and renamed over; every tracked file is lstat'ed (`git status`);
 * tree and commit objects follow; the branch ref is updated through a
 * fsynced lock file; the reflog is appended to.
 */
#define GIT_EDITS	8	/* files changed per commit */
#define GIT_DIRS	16

struct git {
	struct bfs_ctx *ctx;
	char *buf;
	uint64_t seed;
	unsigned serial;
};

/* Write @len bytes into a new file @tmp, optionally fsync, rename to @to. */
static int git_put(struct git *g, const char *tmp, const char *to, size_t len,
		   bool sync)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644), ret;

	if (fd < 0)
		return bfs_fail(g->ctx, -errno, "creating %s: %m", tmp);
	ret = write_all(fd, g->buf + (rng_next(&g->seed) % 1024) * 8, len);
	if (ret)
		bfs_fail(g->ctx, ret, "writing %s: %s", tmp, strerror(-ret));
	if (!ret && sync && fsync(fd) < 0)
		ret = bfs_fail(g->ctx, -errno, "fsync of %s: %m", tmp);
	close(fd);
	if (!ret && rename(tmp, to) < 0)
		ret = bfs_fail(g->ctx, -errno, "rename %s to %s: %m", tmp, to);
	return ret;
}

static int git_object(struct git *g, size_t len)
{
	char tmp[PATH_MAX + 64], to[PATH_MAX + 64];
	unsigned id = g->serial++ * 2654435761u;

	bfs_fmt(tmp, sizeof(tmp), "%s/.git/objects/%02x/tmp_obj_%u",
		 g->ctx->dir, id >> 24, g->serial);
	bfs_fmt(to, sizeof(to), "%s/.git/objects/%02x/%06x%08x", g->ctx->dir,
		 id >> 24, id & 0xffffff, g->serial);
	return git_put(g, tmp, to, len, false);
}

static size_t git_size(struct git *g)
{
	return 200 + rng_next(&g->seed) % 7800;
}

static int git_setup(struct git *g)
{
	const char *sub[] = { ".git", ".git/objects", ".git/refs",
			      ".git/refs/heads", ".git/logs", NULL };
	char path[PATH_MAX + 64], tmp[PATH_MAX + 64];
	int ret = 0;

	for (int i = 0; sub[i]; i++) {
		bfs_fmt(path, sizeof(path), "%s/%s", g->ctx->dir, sub[i]);
		if (mkdir(path, 0755) < 0)
			return bfs_fail(g->ctx, -errno, "mkdir %s: %m", path);
	}
	for (int i = 0; i < 256; i++) {
		bfs_fmt(path, sizeof(path), "%s/.git/objects/%02x",
			 g->ctx->dir, i);
		if (mkdir(path, 0755) < 0)
			return bfs_fail(g->ctx, -errno, "mkdir %s: %m", path);
	}
	for (int i = 0; i < GIT_DIRS; i++) {
		bfs_fmt(path, sizeof(path), "%s/src%02d", g->ctx->dir, i);
		if (mkdir(path, 0755) < 0)
			return bfs_fail(g->ctx, -errno, "mkdir %s: %m", path);
	}
	for (unsigned i = 0; i < g->ctx->cfg->git_files && !ret; i++) {
		size_t len = git_size(g);

		bfs_fmt(tmp, sizeof(tmp), "%s/src%02u/.new", g->ctx->dir,
			 i % GIT_DIRS);
		bfs_fmt(path, sizeof(path), "%s/src%02u/file%05u.c",
			 g->ctx->dir, i % GIT_DIRS, i);
		ret = git_put(g, tmp, path, len, false);
		if (!ret)
			ret = git_object(g, len / 2);
	}
	return ret;
}

static int git_commit(struct git *g)
{
	const char *d = g->ctx->dir;
	unsigned nfiles = g->ctx->cfg->git_files;
	char path[PATH_MAX + 64], tmp[PATH_MAX + 64], line[128];
	struct stat st;
	int fd, ret = 0, len;

	for (int e = 0; e < GIT_EDITS && !ret; e++) {
		unsigned f = (unsigned)(rng_next(&g->seed) % nfiles);
		size_t size = git_size(g);

		bfs_fmt(tmp, sizeof(tmp), "%s/src%02u/.file%05u.c.swp", d,
			 f % GIT_DIRS, f);
		bfs_fmt(path, sizeof(path), "%s/src%02u/file%05u.c", d,
			 f % GIT_DIRS, f);
		ret = git_put(g, tmp, path, size, false);
		if (!ret)
			ret = git_object(g, size / 2);
	}
	for (unsigned f = 0; f < nfiles && !ret; f++) {	/* git status */
		bfs_fmt(path, sizeof(path), "%s/src%02u/file%05u.c", d,
			 f % GIT_DIRS, f);
		if (lstat(path, &st) < 0)
			ret = bfs_fail(g->ctx, -errno, "lstat %s: %m", path);
	}
	if (ret)
		return ret;
	bfs_fmt(tmp, sizeof(tmp), "%s/.git/index.lock", d);
	bfs_fmt(path, sizeof(path), "%s/.git/index", d);
	ret = git_put(g, tmp, path, 64 + (size_t)nfiles * 72 > 65536 ? 65536 :
		      64 + (size_t)nfiles * 72, true);
	for (int i = 0; i < 1 + GIT_DIRS / 4 && !ret; i++)	/* trees, commit */
		ret = git_object(g, 300);
	if (ret)
		return ret;
	bfs_fmt(tmp, sizeof(tmp), "%s/.git/refs/heads/main.lock", d);
	bfs_fmt(path, sizeof(path), "%s/.git/refs/heads/main", d);
	ret = git_put(g, tmp, path, 41, true);
	if (ret)
		return ret;
	bfs_fmt(path, sizeof(path), "%s/.git/logs/HEAD", d);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0)
		return bfs_fail(g->ctx, -errno, "opening %s: %m", path);
	len = snprintf(line, sizeof(line), "%040x %040x bench <b@x> 0 +0000\tcommit\n",
		       g->serial - 1, g->serial);
	ret = write_all(fd, line, (size_t)len);
	if (ret)
		bfs_fail(g->ctx, ret, "appending to %s: %s", path,
			 strerror(-ret));
	close(fd);
	return ret ? ret : check_stop(g->ctx);
}

static int git_run(struct bfs_ctx *ctx)
{
	struct git g = { .ctx = ctx, .seed = 4, .buf = random_buf(16384, 4) };
	unsigned commits = ctx->cfg->git_commits;
	int ret;

	if (!g.buf)
		return bfs_fail(ctx, -ENOMEM, "no memory for the buffer");
	ret = git_setup(&g);
	if (ret)
		goto out_free;
	bfs_phase_begin(ctx, 0);
	for (unsigned c = 0; c < commits && !ret; c++)
		ret = git_commit(&g);
	if (!ret)
		bfs_phase_end(ctx, commits);
out_free:
	free(g.buf);
	return ret;
}

const struct bfs_workload bfs_workloads[] = {
	{ "seq", "write one file in 1 MiB requests and fsync; read it back cold",
	  seq_run, { "seq-write", "seq-read", NULL },
	  { "MiB/s", "MiB/s" } },
	{ "rand", "4 KiB random writes (buffered, O_DSYNC) and reads (buffered, O_DIRECT) in one file, each for a fixed time",
	  rand_run,
	  { "rand-write-buf", "rand-write-sync", "rand-read-buf",
	    "rand-read-direct", NULL },
	  { "ops/s", "ops/s", "ops/s", "ops/s" } },
	{ "meta", "create, stat, readdir (10 passes) and unlink empty files in one directory",
	  meta_run,
	  { "meta-create", "meta-stat", "meta-readdir", "meta-unlink", NULL },
	  { "ops/s", "ops/s", "entries/s", "ops/s" } },
	{ "small", "write 4 KiB files over 100 directories and syncfs; read them back cold",
	  small_run, { "small-write", "small-read", NULL },
	  { "files/s", "files/s" } },
	{ "untar", "tar -x of /usr/include; du -s cold; rm -rf",
	  untar_run, { "untar", "du-cold", "rm-rf", NULL },
	  { "entries/s", "entries/s", "entries/s" } },
	{ "git", "a commit loop: save edits by rename, loose objects, fsynced index and ref, lstat of every file",
	  git_run, { "git-commit", NULL }, { "commits/s" } },
	{ NULL, NULL, NULL, { NULL }, { NULL } },
};
