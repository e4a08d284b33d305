/*
 * bench_fs.c - `mixfs bench fs`: the same workloads, in one run, on tmpfs,
 * a directory on the native disk, libfuse's passthrough_ll example (in its
 * default cache mode and with cache=always) and every mixfs driver built
 * into this command, each result shown as a ratio to passthrough_ll and to
 * tmpfs, with the FUSE daemon's CPU time and peak memory beside it.
 *
 * This file owns the targets and the report: it compiles passthrough_ll
 * from the example source Debian ships (into a cache directory, once),
 * makes the /usr/include tarball (once), mounts a fresh instance of each
 * target for every (run, workload), reads daemon CPU and VmHWM from /proc,
 * remounts FUSE targets and drops the kernel's caches for cold reads, and
 * always takes its mounts down again: at exit, on failure, and on SIGINT,
 * SIGTERM or SIGHUP (lazily, then the daemons are told to stop).
 * The workloads themselves are in bench_fs_work.c.
 *
 * It deliberately does not judge: no threshold, no pass or fail on speed.
 * A workload that fails on a target is reported as failed (with why) and
 * the run goes on; the exit status is then 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuse/fsd.h"
#include "tools/bench_fs.h"

int mixfs_bench_fs(int argc, char **argv);

#define MAX_TARGETS	10
#define MAX_ROWS	32
#define FUSE_MAGIC	0x65735546
#define PT_EXAMPLES	"/usr/share/doc/libfuse3-dev/examples"
#define REF_PT		"passthrough_ll"
#define REF_TMPFS	"tmpfs"

enum tkind { TK_TMPFS, TK_DISK, TK_PT, TK_MIXFS };

struct bfs_target {
	char name[40];
	enum tkind kind;
	const char *pt_cache;		/* passthrough_ll: NULL or a cache= mode */
	const char *driver;		/* mixfs driver name */
	char detail[128];		/* how it is mounted, for the report */
	const char *data;		/* mkfs --data (NULL: none); "@ROOT@"
					 * is the instance's directory */
	bool selected;
	/* the current instance; the signal handler reads these */
	char root[PATH_MAX];		/* everything of this instance */
	char mnt[PATH_MAX];		/* mount point (or the disk directory) */
	char store[PATH_MAX + 16];	/* mixfs store URI */
	char data_uri[2 * PATH_MAX];	/* the instance's data store */
	volatile pid_t pid;		/* FUSE daemon, 0 if none */
	volatile sig_atomic_t mounted;
};

static struct bfs_target targets[MAX_TARGETS];
static int ntargets;
static char base_dir[PATH_MAX];		/* our temporary directory */
static char self_exe[PATH_MAX];		/* this mixfs command */
static char pt_bin[PATH_MAX];		/* compiled passthrough_ll */
static volatile pid_t running_child;	/* a tar, du or rm in progress */
volatile sig_atomic_t bfs_interrupted;

/* --- small helpers ------------------------------------------------------ */

double bfs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

void bfs_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

int bfs_fail(struct bfs_ctx *ctx, int code, const char *fmt, ...)
{
	va_list ap;

	if (!ctx->err[0]) {	/* the first, most precise reason wins */
		va_start(ap, fmt);
		vsnprintf(ctx->err, sizeof(ctx->err), fmt, ap);
		va_end(ap);
	}
	return code;
}

/*
 * Run @argv, wait, and keep the start of what it printed (stdout and
 * stderr) in @out. Returns its exit status (128 + signal if killed), or a
 * negative errno if it could not be run.
 */
static int run_capture(char *const argv[], char *out, size_t size)
{
	int pfd[2], status;
	size_t len = 0;
	pid_t pid;
	ssize_t n;
	char sink[4096];

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null >= 0)
			dup2(null, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		/* This command itself runs from /proc/self/exe: the same
		 * program even if the file is rebuilt during a long run. */
		execvp(argv[0] == self_exe ? "/proc/self/exe" : argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	running_child = pid;
	close(pfd[1]);
	for (;;) {
		char *dst = len + 1 < size ? out + len : sink;
		size_t room = len + 1 < size ? size - 1 - len : sizeof(sink);

		n = read(pfd[0], dst, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (dst != sink)
			len += (size_t)n;
	}
	close(pfd[0]);
	if (size)
		out[len] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	running_child = 0;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int bfs_run(struct bfs_ctx *ctx, char *const argv[])
{
	char out[512];
	int ret = run_capture(argv, out, sizeof(out));

	if (ret < 0)
		return bfs_fail(ctx, ret, "cannot run %s: %s", argv[0],
				strerror(-ret));
	if (bfs_interrupted)
		return bfs_fail(ctx, -EINTR, "interrupted");
	if (ret) {
		out[strcspn(out, "\n")] = '\0';
		return bfs_fail(ctx, -EIO, "%s exited with %d: %s", argv[0],
				ret, out);
	}
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* rm -rf that never crosses into a mount left behind. */
static void rm_tree(const char *path)
{
	nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static bool is_fuse_mount(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && sf.f_type == FUSE_MAGIC;
}

static bool alive(pid_t pid)
{
	return pid > 0 && kill(pid, 0) == 0;
}

/* Wait up to @ms for @pid (not necessarily our child) to go away. */
static bool wait_gone(pid_t pid, bool child, long ms)
{
	for (long t = 0; t <= ms; t += 20) {
		if (child && waitpid(pid, NULL, WNOHANG) == pid)
			return true;
		if (!child && !alive(pid))
			return true;
		sleep_ms(20);
	}
	return false;
}

/* utime + stime of @pid in seconds, NaN if it cannot be read. */
static double proc_cpu(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	ssize_t n;
	int fd;

	bfs_fmt(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return NAN;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return NAN;
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* the command name may hold spaces */
	/* after ") ": state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return NAN;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* VmHWM of @pid in MiB, NaN if it cannot be read. */
static double proc_hwm(pid_t pid)
{
	char path[64], line[256];
	double mib = NAN;
	FILE *f;

	bfs_fmt(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return NAN;
	while (fgets(line, sizeof(line), f)) {
		unsigned long kb;

		if (sscanf(line, "VmHWM: %lu kB", &kb) == 1)
			mib = (double)kb / 1024.0;
	}
	fclose(f);
	return mib;
}

/* --- targets: mount, unmount, remount ----------------------------------- */

static int pt_start(struct bfs_target *t, char *err, size_t errsz)
{
	char opts[PATH_MAX + 128], log[PATH_MAX + 16];
	pid_t pid;
	int fd, ret;

	bfs_fmt(opts, sizeof(opts), "source=%s/src,default_permissions%s%s",
		 t->root, t->pt_cache ? ",cache=" : "",
		 t->pt_cache ? t->pt_cache : "");
	bfs_fmt(log, sizeof(log), "%s/daemon.log", t->root);
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		bfs_fmt(err, errsz, "fork: %s", strerror(errno));
		return ret;
	}
	if (pid == 0) {
		/* Its own process group: a Ctrl-C reaches us, and we stop it
		 * after unmounting, not the terminal before. */
		setpgid(0, 0);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(pt_bin, pt_bin, "-f", "-o", opts, t->mnt, (char *)NULL);
		_exit(127);
	}
	t->pid = pid;
	for (int i = 0; i < 500; i++) {
		if (is_fuse_mount(t->mnt)) {
			t->mounted = 1;
			return 0;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			t->pid = 0;
			bfs_fmt(err, errsz, "passthrough_ll exited before mounting (see %s)",
				 log);
			return -EIO;
		}
		sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	t->pid = 0;
	bfs_fmt(err, errsz, "passthrough_ll did not mount within 10 s");
	return -ETIMEDOUT;
}

static int self_cmd(char *err, size_t errsz, const char *what, char *const argv[])
{
	char out[1024];
	int ret = run_capture(argv, out, sizeof(out));

	if (ret) {
		out[strcspn(out, "\n")] = '\0';
		bfs_fmt(err, errsz, "mixfs %s failed (%d): %s", what, ret, out);
		return -EIO;
	}
	return 0;
}

static int mixfs_start(struct bfs_target *t, char *err, size_t errsz)
{
	char *mount[] = { self_exe, "mount", "--store", t->store, "--driver",
			  (char *)t->driver, t->mnt, NULL };
	char *status[] = { self_exe, "status", t->mnt, NULL };
	char out[4096], *p;
	int ret;

	ret = self_cmd(err, errsz, "mount", mount);
	if (ret)
		return ret;
	t->mounted = 1;
	ret = run_capture(status, out, sizeof(out));
	p = strstr(out, "pid: ");
	if (ret || !p || (p != out && p[-1] != '\n')) {
		bfs_fmt(err, errsz, "mixfs status %s gave no pid", t->mnt);
		return -EIO;
	}
	t->pid = (pid_t)strtol(p + 5, NULL, 10);
	return 0;
}

/* Take the current instance down; quiet and best-effort. */
static void target_unmount(struct bfs_target *t)
{
	pid_t pid = t->pid;

	if (!t->mounted)
		return;
	if (t->kind == TK_MIXFS) {
		char *umount[] = { self_exe, "umount", t->mnt, NULL };
		char out[256];

		if (run_capture(umount, out, sizeof(out)) != 0) {
			umount2(t->mnt, MNT_DETACH);
			if (pid && !wait_gone(pid, false, 10000))
				kill(pid, SIGKILL);
		}
	} else if (t->kind == TK_PT) {
		if (umount2(t->mnt, 0) < 0)
			umount2(t->mnt, MNT_DETACH);
		if (pid && !wait_gone(pid, true, 10000)) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
	} else if (t->kind == TK_TMPFS) {
		if (umount2(t->mnt, 0) < 0)
			umount2(t->mnt, MNT_DETACH);
	}
	t->pid = 0;
	t->mounted = 0;
}

/*
 * The data store of instance @serial of @t: its template with "@ROOT@" the
 * instance's directory, in a RADOS namespace of its own (for the cache:
 * form too: a query at the end of a cache: URI is the remote's).
 */
static void data_uri(struct bfs_target *t, int serial)
{
	const char *at = strstr(t->data, "@ROOT@");
	char uri[sizeof(t->data_uri)];

	bfs_fmt(uri, sizeof(uri), "%.*s%s%s", (int)(at ? at - t->data : 0),
		t->data, at ? t->root : "", at ? at + 6 : t->data);
	bfs_fmt(t->data_uri, sizeof(t->data_uri), "%s%cnamespace=mixfs-bench-%ld-%d",
		uri, strchr(t->data, '?') ? '&' : '?',
		(long)getpid(), serial);
}

/* Empty the data store of @t's unmounted instance: mkfs --force removes
 * every object; the store's superblock object stays. */
static void data_discard(struct bfs_target *t)
{
	char *mkfs[] = { self_exe, "mkfs", "--force", "--data", t->data_uri,
			 t->store, NULL };
	char err[256];

	if (t->data && t->data_uri[0])
		self_cmd(err, sizeof(err), "mkfs", mkfs);
	t->data_uri[0] = '\0';
}

/* A fresh instance of @t for run @run: directories, store, mount. */
static int target_mount(struct bfs_target *t, int serial, char *err,
			size_t errsz)
{
	int ret = 0;

	bfs_fmt(t->root, sizeof(t->root), "%s/%s-%d", base_dir, t->name, serial);
	bfs_fmt(t->mnt, sizeof(t->mnt), "%s/mnt", t->root);
	if (mkdir(t->root, 0755) < 0 || mkdir(t->mnt, 0755) < 0) {
		bfs_fmt(err, errsz, "mkdir %s: %s", t->mnt, strerror(errno));
		return -errno;
	}
	switch (t->kind) {
	case TK_TMPFS:
		if (mount("mixfs-bench", t->mnt, "tmpfs", 0, "mode=0755") < 0) {
			ret = -errno;
			bfs_fmt(err, errsz, "mount -t tmpfs on %s: %s", t->mnt,
				 strerror(errno));
		} else {
			t->mounted = 1;
		}
		break;
	case TK_DISK:
		break;
	case TK_PT: {
		char src[PATH_MAX + 8];

		bfs_fmt(src, sizeof(src), "%s/src", t->root);
		if (mkdir(src, 0755) < 0) {
			bfs_fmt(err, errsz, "mkdir %s: %s", src, strerror(errno));
			return -errno;
		}
		ret = pt_start(t, err, errsz);
		break;
	}
	case TK_MIXFS: {
		char *mkfs[] = { self_exe, "mkfs", "--driver", (char *)t->driver,
				 t->store, NULL, NULL, NULL };

		bfs_fmt(t->store, sizeof(t->store), "rocksdb:%s/store", t->root);
		if (t->data) {
			data_uri(t, serial);
			mkfs[4] = "--data";
			mkfs[5] = t->data_uri;
			mkfs[6] = t->store;
		}
		ret = self_cmd(err, errsz, "mkfs", mkfs);
		if (!ret)
			ret = mixfs_start(t, err, errsz);
		break;
	}
	}
	return ret;
}

static void drop_caches(const struct bfs_cfg *cfg)
{
	int fd;

	sync();
	if (!cfg->can_drop)
		return;
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd >= 0) {
		ssize_t w = write(fd, "3", 1);

		(void)w;	/* can_drop was checked once, at the start */
		close(fd);
	}
}

int bfs_cold(struct bfs_ctx *ctx)
{
	struct bfs_target *t = ctx->target;
	char err[256] = "";
	int ret = 0;

	sync();
	if (t->kind == TK_PT || t->kind == TK_MIXFS) {
		target_unmount(t);
		ret = t->kind == TK_PT ? pt_start(t, err, sizeof(err))
				       : mixfs_start(t, err, sizeof(err));
		if (ret)
			return bfs_fail(ctx, ret, "remounting for a cold read: %s",
					err);
	}
	drop_caches(ctx->cfg);
	return bfs_interrupted ? bfs_fail(ctx, -EINTR, "interrupted") : 0;
}

void bfs_phase_begin(struct bfs_ctx *ctx, int row)
{
	ctx->row = row;
	ctx->cpu0 = ctx->target->pid ? proc_cpu(ctx->target->pid) : NAN;
	ctx->t0 = bfs_now();
}

void bfs_phase_end(struct bfs_ctx *ctx, double amount)
{
	double dt = bfs_now() - ctx->t0;
	struct bfs_sample *s = &ctx->samples[ctx->row];
	pid_t pid = ctx->target->pid;

	s->value = amount / (dt > 1e-9 ? dt : 1e-9);
	s->cpu_s = pid ? proc_cpu(pid) - ctx->cpu0 : NAN;
	s->rss_mib = pid ? proc_hwm(pid) : NAN;
}

/* --- cleanup, whatever happens ------------------------------------------ */

static void on_signal(int sig)
{
	static const char msg[] =
		"\nmixfs bench fs: interrupted; unmounting and cleaning up\n";
	ssize_t w;

	(void)sig;
	bfs_interrupted = 1;
	w = write(2, msg, sizeof(msg) - 1);
	(void)w;
	if (running_child > 0)
		kill(running_child, SIGTERM);
	for (int i = 0; i < ntargets; i++) {
		if (!targets[i].mounted)
			continue;
		umount2(targets[i].mnt, MNT_DETACH);
		if (targets[i].pid > 0)
			kill(targets[i].pid, SIGTERM);
	}
}

static void cleanup_all(void)
{
	for (int i = 0; i < ntargets; i++)
		target_unmount(&targets[i]);
	if (base_dir[0]) {
		rm_tree(base_dir);
		base_dir[0] = '\0';
	}
}

static void trap_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal,
				.sa_flags = SA_RESETHAND };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	atexit(cleanup_all);
}

/* --- preparation: cache directory, passthrough_ll, tarball ------------- */

static int cache_dir(char *out, size_t size)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char cmd[PATH_MAX + 32];
	char *mk[] = { "mkdir", "-p", out, NULL };

	if (xdg && *xdg)
		bfs_fmt(out, size, "%s/mixfs/bench", xdg);
	else if (home && *home)
		bfs_fmt(out, size, "%s/.cache/mixfs/bench", home);
	else
		bfs_fmt(out, size, "/var/tmp/mixfs-bench-cache");
	if (run_capture(mk, cmd, sizeof(cmd))) {
		fprintf(stderr, "mixfs bench fs: cannot make the cache directory %s: %s",
			out, cmd);
		return -EIO;
	}
	return 0;
}

/* Copy @name (or @name.gz) from the examples directory into @dir. */
static int fetch_example(const char *src_dir, const char *dir, const char *name,
			 struct stat *st)
{
	char src[PATH_MAX], dst[PATH_MAX + 64], out[512];
	char *cp[] = { "cp", src, dst, NULL };
	char *gz[] = { "sh", "-c", "gzip -dc \"$0\" > \"$1\"", src, dst, NULL };
	bool zipped = false;

	bfs_fmt(src, sizeof(src), "%s/%s", src_dir, name);
	if (stat(src, st) < 0) {
		bfs_fmt(src, sizeof(src), "%s/%s.gz", src_dir, name);
		if (stat(src, st) < 0)
			return -ENOENT;
		zipped = true;
	}
	bfs_fmt(dst, sizeof(dst), "%s/%s", dir, name);
	if (run_capture(zipped ? gz : cp, out, sizeof(out))) {
		fprintf(stderr, "mixfs bench fs: copying %s: %s", src, out);
		return -EIO;
	}
	return 0;
}

static int build_passthrough(const char *cache, const char *src_dir)
{
	char dir[PATH_MAX], src[PATH_MAX + 32], tmp[PATH_MAX + 16], out[8192];
	char *cc[] = { "sh", "-c",
		"cc -O2 -Wall -o \"$1\" \"$0\" $(pkg-config --cflags --libs fuse3)",
		src, tmp, NULL };
	struct stat sst, hst, bst;
	int ret;

	bfs_fmt(dir, sizeof(dir), "%s/passthrough_ll", cache);
	bfs_fmt(src, sizeof(src), "%s/passthrough_ll.c", dir);
	bfs_fmt(pt_bin, sizeof(pt_bin), "%s/passthrough_ll", dir);
	bfs_fmt(tmp, sizeof(tmp), "%s.new", pt_bin);
	mkdir(dir, 0755);
	ret = fetch_example(src_dir, dir, "passthrough_ll.c", &sst);
	if (ret == -ENOENT) {
		fprintf(stderr, "mixfs bench fs: no passthrough_ll.c(.gz) in %s "
			"(install libfuse3-dev, or give --passthrough-src DIR, "
			"or leave passthrough_ll out of --targets)\n", src_dir);
		return ret;
	}
	if (ret)
		return ret;
	if (fetch_example(src_dir, dir, "passthrough_helpers.h", &hst) == -ENOENT)
		hst.st_mtime = 0;	/* older examples do without */
	if (stat(pt_bin, &bst) == 0 && bst.st_mtime >= sst.st_mtime &&
	    bst.st_mtime >= hst.st_mtime)
		return 0;
	fprintf(stderr, "compiling %s into %s\n", src_dir, pt_bin);
	if (run_capture(cc, out, sizeof(out)) || rename(tmp, pt_bin) < 0) {
		fprintf(stderr, "mixfs bench fs: compiling passthrough_ll failed:\n%s",
			out);
		return -EIO;
	}
	return 0;
}

/* Count the names in tarball @path. */
static int tar_count(const char *path, unsigned *n)
{
	char line[PATH_MAX + 64];
	FILE *f;

	bfs_fmt(line, sizeof(line), "tar -tf '%s'", path);
	f = popen(line, "r");
	if (!f)
		return -errno;
	*n = 0;
	while (fgets(line, sizeof(line), f))
		(*n)++;
	if (pclose(f) != 0 || *n == 0) {
		fprintf(stderr, "mixfs bench fs: cannot list %s\n", path);
		return -EIO;
	}
	return 0;
}

/*
 * The tarball of /usr/include, made once into the cache. Below scale 1,
 * the workload extracts a smaller tarball of the first scale x N names
 * (directories come before what they hold, so it is a tree of its own).
 */
static int make_tarball(const char *cache, struct bfs_cfg *cfg)
{
	char full[PATH_MAX], tmp[PATH_MAX + 16], out[512];
	char *tar[] = { "tar", "-cf", tmp, "-C", "/usr", "include", NULL };
	char *part[] = { "sh", "-c",
		"tar -tf \"$0\" | head -n \"$2\" | "
		"tar -cf \"$1\" -C /usr --no-recursion -T -",
		full, tmp, NULL, NULL };
	char count[16];
	struct stat st;
	unsigned n;
	int ret;

	bfs_fmt(full, sizeof(full), "%s/usr-include.tar", cache);
	bfs_fmt(tmp, sizeof(tmp), "%s.new", full);
	if (stat(full, &st) < 0) {
		fprintf(stderr, "making %s from /usr/include\n", full);
		if (run_capture(tar, out, sizeof(out)) || rename(tmp, full) < 0) {
			fprintf(stderr, "mixfs bench fs: tar of /usr/include failed: %s\n",
				out);
			return -EIO;
		}
	}
	ret = tar_count(full, &n);
	if (ret)
		return ret;
	bfs_fmt(cfg->tarball, sizeof(cfg->tarball), "%s", full);
	cfg->tar_entries = n;
	if (cfg->scale >= 1)
		return 0;
	n = (unsigned)(n * cfg->scale) < 200 ? 200 : (unsigned)(n * cfg->scale);
	if (n >= cfg->tar_entries)
		return 0;
	bfs_fmt(cfg->tarball, sizeof(cfg->tarball), "%s/usr-include-%u.tar",
		cache, n);
	bfs_fmt(tmp, sizeof(tmp), "%s.new", cfg->tarball);
	bfs_fmt(count, sizeof(count), "%u", n);
	part[5] = count;
	if (stat(cfg->tarball, &st) < 0 &&
	    (run_capture(part, out, sizeof(out)) || rename(tmp, cfg->tarball) < 0)) {
		fprintf(stderr, "mixfs bench fs: making %s failed: %s\n",
			cfg->tarball, out);
		return -EIO;
	}
	return tar_count(cfg->tarball, &cfg->tar_entries);
}

/* --- the report --------------------------------------------------------- */

struct row {
	const struct bfs_workload *w;
	int idx;			/* in w->rows */
};

struct report {
	struct row rows[MAX_ROWS];
	int nrows, runs;
	struct bfs_sample *s;		/* [row][target][run] */
	char (*err)[256];		/* same shape */
};

static struct bfs_sample *sample(struct report *r, int row, int t, int run)
{
	return &r->s[((size_t)row * MAX_TARGETS + (size_t)t) * (size_t)r->runs +
		     (size_t)run];
}

static char *sample_err(struct report *r, int row, int t, int run)
{
	return r->err[((size_t)row * MAX_TARGETS + (size_t)t) * (size_t)r->runs +
		      (size_t)run];
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of the non-NaN values; NaN if none. */
static double median(const double *v, int n)
{
	double tmp[n > 0 ? n : 1];
	int m = 0;

	for (int i = 0; i < n; i++)
		if (!isnan(v[i]))
			tmp[m++] = v[i];
	if (!m)
		return NAN;
	qsort(tmp, (size_t)m, sizeof(double), cmp_double);
	return m % 2 ? tmp[m / 2] : (tmp[m / 2 - 1] + tmp[m / 2]) / 2;
}

enum field { F_VALUE, F_CPU, F_RSS };

static double stat_of(struct report *r, int row, int t, enum field f,
		      bool max)
{
	double v[r->runs > 0 ? r->runs : 1], best = NAN;

	for (int k = 0; k < r->runs; k++) {
		struct bfs_sample *s = sample(r, row, t, k);

		v[k] = f == F_VALUE ? s->value : f == F_CPU ? s->cpu_s : s->rss_mib;
		if (!isnan(v[k]) && (isnan(best) || v[k] > best))
			best = v[k];
	}
	return max ? best : median(v, r->runs);
}

static int find_target(const char *name)
{
	for (int i = 0; i < ntargets; i++)
		if (targets[i].selected && !strcmp(targets[i].name, name))
			return i;
	return -1;
}

static double ratio(struct report *r, int row, int t, const char *ref)
{
	int rt = find_target(ref);
	double a = stat_of(r, row, t, F_VALUE, false), b;

	if (rt < 0)
		return NAN;
	b = stat_of(r, row, rt, F_VALUE, false);
	return b > 0 ? a / b : NAN;
}

static void put_num(FILE *f, const char *fmt, double v, int width)
{
	char buf[64];

	if (isnan(v))
		fprintf(f, "%*s", width, "-");
	else {
		bfs_fmt(buf, sizeof(buf), fmt, v);
		fprintf(f, "%*s", width, buf);
	}
}

static bool any_err(struct report *r, int row, int t)
{
	for (int k = 0; k < r->runs; k++)
		if (sample_err(r, row, t, k)[0])
			return true;
	return false;
}

static void print_table(FILE *f, struct report *r, const struct bfs_cfg *cfg)
{
	fprintf(f, "\nmedian of %d run%s; ratio = rate / the reference's rate "
		"(above 1: faster than it)\n", r->runs, r->runs == 1 ? "" : "s");
	fprintf(f, "cold = sync, FUSE targets unmounted and remounted, %s\n",
		cfg->can_drop ? "echo 3 > /proc/sys/vm/drop_caches" :
		"NOT dropped (drop_caches needs root): cold reads are warm");
	fprintf(f, "%-17s %-22s %12s %-10s %8s %8s %9s %9s\n", "workload",
		"target", "median", "unit", "vs pt_ll", "vs tmpfs", "daemon",
		"peak RSS");
	fprintf(f, "%-17s %-22s %12s %-10s %8s %8s %9s %9s\n", "", "", "", "",
		"", "", "CPU s", "MiB");
	for (int i = 0; i < r->nrows; i++) {
		struct row *row = &r->rows[i];

		for (int t = 0; t < ntargets; t++) {
			double v;

			if (!targets[t].selected)
				continue;
			v = stat_of(r, i, t, F_VALUE, false);
			fprintf(f, "%-17s %-22s ", row->w->rows[row->idx],
				targets[t].name);
			if (isnan(v) && !any_err(r, i, t))
				fprintf(f, "%12s", "not run");
			else if (isnan(v))
				fprintf(f, "%12s", "FAILED");
			else
				put_num(f, "%.1f", v, 12);
			fprintf(f, " %-10s ", row->w->units[row->idx]);
			put_num(f, "%.2f", ratio(r, i, t, REF_PT), 8);
			fputc(' ', f);
			put_num(f, "%.2f", ratio(r, i, t, REF_TMPFS), 8);
			fputc(' ', f);
			put_num(f, "%.2f", stat_of(r, i, t, F_CPU, false), 9);
			fputc(' ', f);
			put_num(f, "%.0f", stat_of(r, i, t, F_RSS, true), 9);
			fputc('\n', f);
		}
	}
	for (int i = 0; i < r->nrows; i++)
		for (int t = 0; t < ntargets; t++)
			for (int k = 0; k < r->runs; k++)
				if (targets[t].selected && sample_err(r, i, t, k)[0])
					fprintf(f, "failed: %s on %s, run %d: %s\n",
						r->rows[i].w->rows[r->rows[i].idx],
						targets[t].name, k + 1,
						sample_err(r, i, t, k));
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v, const char *fmt)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, fmt, v);
}

struct machine {
	char kernel[256], cpu[256], date[32], fstype[32], commit[64];
	long cores, mem_mib;
};

static void machine_info(struct machine *m, const char *tree)
{
	struct utsname u;
	char line[512];
	struct statfs sf;
	time_t now = time(NULL);
	FILE *f;

	memset(m, 0, sizeof(*m));
	if (uname(&u) == 0)
		bfs_fmt(m->kernel, sizeof(m->kernel), "%s %s %s", u.sysname,
			 u.release, u.machine);
	m->cores = sysconf(_SC_NPROCESSORS_ONLN);
	m->mem_mib = (long)((double)sysconf(_SC_PHYS_PAGES) *
			    (double)sysconf(_SC_PAGESIZE) / (1 << 20));
	strftime(m->date, sizeof(m->date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c) {
			bfs_fmt(m->cpu, sizeof(m->cpu), "%s", c + 2);
			m->cpu[strcspn(m->cpu, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
	if (statfs(base_dir, &sf) == 0) {
		unsigned long t = (unsigned long)sf.f_type;

		bfs_fmt(m->fstype, sizeof(m->fstype), "%s",
			 t == 0xEF53 ? "ext4" : t == 0x58465342 ? "xfs" :
			 t == 0x9123683E ? "btrfs" : t == 0x01021994 ? "tmpfs" :
			 t == 0x794c7630 ? "overlay" : "other");
		if (!strcmp(m->fstype, "other"))
			bfs_fmt(m->fstype, sizeof(m->fstype), "0x%lx", t);
	}
	if (tree) {
		bfs_fmt(line, sizeof(line),
			 "git -C '%s' rev-parse --short HEAD 2>/dev/null", tree);
		f = popen(line, "r");
		if (f) {
			if (fgets(m->commit, sizeof(m->commit), f))
				m->commit[strcspn(m->commit, "\n")] = '\0';
			pclose(f);
		}
	}
}

static void write_json(FILE *f, struct report *r, const struct bfs_cfg *cfg,
		       const struct machine *m, int argc, char **argv)
{
	bool first = true;

	fprintf(f, "{\n  \"schema\": \"mixfs-bench-fs/1\",\n  \"date\": ");
	json_str(f, m->date);
	fprintf(f, ",\n  \"command\": [");
	for (int i = 0; i < argc; i++) {
		fputs(i ? ", " : "", f);
		json_str(f, argv[i]);
	}
	fprintf(f, "],\n  \"machine\": {\"kernel\": ");
	json_str(f, m->kernel);
	fprintf(f, ", \"cores\": %ld, \"mem_mib\": %ld, \"cpu\": ", m->cores,
		m->mem_mib);
	json_str(f, m->cpu);
	fprintf(f, ", \"disk_fs\": ");
	json_str(f, m->fstype);
	fprintf(f, ", \"commit\": ");
	json_str(f, m->commit);
	fprintf(f, "},\n  \"config\": {\"runs\": %d, \"scale\": %g, "
		"\"rand_seconds\": %g, \"seq_bytes\": %llu, \"rand_bytes\": %llu, "
		"\"meta_files\": %u, \"small_files\": %u, \"small_dirs\": %u, "
		"\"git_files\": %u, \"git_commits\": %u, \"tar_entries\": %u, "
		"\"caches_dropped\": %s},\n",
		r->runs, cfg->scale, cfg->seconds,
		(unsigned long long)cfg->seq_bytes,
		(unsigned long long)cfg->rand_bytes, cfg->meta_files,
		cfg->small_files, cfg->small_dirs, cfg->git_files,
		cfg->git_commits, cfg->tar_entries,
		cfg->can_drop ? "true" : "false");
	fprintf(f, "  \"targets\": [");
	for (int t = 0; t < ntargets; t++) {
		if (!targets[t].selected)
			continue;
		fprintf(f, "%s\n    {\"name\": ", first ? "" : ",");
		json_str(f, targets[t].name);
		fprintf(f, ", \"how\": ");
		json_str(f, targets[t].detail);
		fputc('}', f);
		first = false;
	}
	fprintf(f, "\n  ],\n  \"results\": [");
	first = true;
	for (int i = 0; i < r->nrows; i++) {
		struct row *row = &r->rows[i];

		for (int t = 0; t < ntargets; t++) {
			if (!targets[t].selected)
				continue;
			fprintf(f, "%s\n    {\"workload\": ", first ? "" : ",");
			first = false;
			json_str(f, row->w->name);
			fprintf(f, ", \"row\": ");
			json_str(f, row->w->rows[row->idx]);
			fprintf(f, ", \"target\": ");
			json_str(f, targets[t].name);
			fprintf(f, ", \"unit\": ");
			json_str(f, row->w->units[row->idx]);
			fprintf(f, ", \"median\": ");
			json_num(f, stat_of(r, i, t, F_VALUE, false), "%.3f");
			fprintf(f, ", \"vs_passthrough_ll\": ");
			json_num(f, ratio(r, i, t, REF_PT), "%.4f");
			fprintf(f, ", \"vs_tmpfs\": ");
			json_num(f, ratio(r, i, t, REF_TMPFS), "%.4f");
			fprintf(f, ", \"daemon_cpu_s\": ");
			json_num(f, stat_of(r, i, t, F_CPU, false), "%.3f");
			fprintf(f, ", \"peak_rss_mib\": ");
			json_num(f, stat_of(r, i, t, F_RSS, true), "%.1f");
			fprintf(f, ",\n     \"runs\": [");
			for (int k = 0; k < r->runs; k++) {
				struct bfs_sample *s = sample(r, i, t, k);

				fprintf(f, "%s{\"value\": ", k ? ", " : "");
				json_num(f, s->value, "%.3f");
				fprintf(f, ", \"cpu_s\": ");
				json_num(f, s->cpu_s, "%.3f");
				fprintf(f, ", \"rss_mib\": ");
				json_num(f, s->rss_mib, "%.1f");
				if (sample_err(r, i, t, k)[0]) {
					fprintf(f, ", \"error\": ");
					json_str(f, sample_err(r, i, t, k));
				}
				fputc('}', f);
			}
			fputs("]}", f);
		}
	}
	fprintf(f, "\n  ]\n}\n");
}

/* The source tree: the first directory holding bench/results, looking up
 * from the current directory and then from this executable's. */
static bool find_tree(char *out, size_t size)
{
	char start[2][PATH_MAX];
	struct stat st;

	if (!getcwd(start[0], sizeof(start[0])))
		start[0][0] = '\0';
	bfs_fmt(start[1], sizeof(start[1]), "%s", self_exe);
	for (int i = 0; i < 2; i++) {
		char dir[PATH_MAX], probe[PATH_MAX + 32];

		bfs_fmt(dir, sizeof(dir), "%s", start[i]);
		while (dir[0]) {
			bfs_fmt(probe, sizeof(probe), "%s/bench/results", dir);
			if (stat(probe, &st) == 0 && S_ISDIR(st.st_mode)) {
				bfs_fmt(out, size, "%s", dir);
				return true;
			}
			*strrchr(dir, '/') = '\0';
		}
	}
	return false;
}

/* --- options and the main loop ------------------------------------------ */

static const char usage[] =
"usage: mixfs bench fs [OPTIONS]\n"
"  Mount each target, run each workload on it, print medians as ratios to\n"
"  passthrough_ll and tmpfs. Needs root (mounts, drop_caches).\n"
"  --runs N            runs per target and workload (default 3)\n"
"  --scale F           multiply sizes, counts and durations (default 1)\n"
"  --quick             a smoke run in seconds (--scale 0.01, 0.5 s phases)\n"
"  --seconds S         length of each random I/O phase (default 20 x scale)\n"
"  --targets A,B,...   targets to run (default all; see --list)\n"
"  --workloads A,B,... workloads to run (default all; see --list)\n"
"  --dir DIR           where temporary directories go; the disk target is\n"
"                      here (default /var/tmp)\n"
"  --passthrough-src D where passthrough_ll.c(.gz) is (default\n"
"                      " PT_EXAMPLES ")\n"
"  --json FILE         write every figure and the machine's details as JSON\n"
"                      (- for stdout; the table then goes to stderr)\n"
"  --save NAME         also write bench/results/DATE-NAME.json in the tree\n"
"  --list              list targets and workloads\n"
"  --rados URI         add tablefs-rados and tablefs-cache-rados: tablefs\n"
"                      with its file data on the rados: store URI (each\n"
"                      instance in a namespace of its own, emptied after)\n";

static void add_target(const char *name, enum tkind k, const char *cache,
		       const char *driver, const char *detail)
{
	struct bfs_target *t = &targets[ntargets++];

	bfs_fmt(t->name, sizeof(t->name), "%s", name);
	t->kind = k;
	t->pt_cache = cache;
	t->driver = driver;
	bfs_fmt(t->detail, sizeof(t->detail), "%s", detail);
	t->selected = true;
}

static void make_targets(void)
{
	add_target("tmpfs", TK_TMPFS, NULL, NULL, "mount -t tmpfs");
	add_target("disk", TK_DISK, NULL, NULL, "a directory under --dir");
	add_target(REF_PT, TK_PT, NULL, NULL,
		   "passthrough_ll -o source=DIR,default_permissions (cache=auto)");
	add_target("passthrough_ll-always", TK_PT, "always", NULL,
		   "passthrough_ll -o source=DIR,default_permissions,cache=always");
	for (size_t i = 0; fsd_drivers[i] && ntargets < MAX_TARGETS; i++) {
		char detail[128];

		bfs_fmt(detail, sizeof(detail),
			 "mixfs mount --driver %s on a fresh rocksdb: store",
			 fsd_drivers[i]->name);
		add_target(fsd_drivers[i]->name, TK_MIXFS, NULL,
			   fsd_drivers[i]->name, detail);
	}
}

/* tablefs with its file data on rados: @uri, alone and behind a cache:
 * on the instance's directory (--rados). */
static void add_rados_targets(const char *uri)
{
	static char cached[2 * PATH_MAX];

	bfs_fmt(cached, sizeof(cached),
		"cache:local=[dir:@ROOT@/cache],max=4G:%s", uri);
	if (ntargets + 2 > MAX_TARGETS || !fsd_driver_find("tablefs"))
		return;
	add_target("tablefs-rados", TK_MIXFS, NULL, "tablefs",
		   "tablefs, file data on --rados (mkfs --data), a namespace per instance");
	targets[ntargets - 1].data = uri;	/* argv: lives long enough */
	add_target("tablefs-cache-rados", TK_MIXFS, NULL, "tablefs",
		   "the same behind cache:local=[dir:...],max=4G");
	targets[ntargets - 1].data = cached;
}

/* Mark the names in the comma list @list; false (with a message) on an
 * unknown one. */
static bool pick(const char *list, const char *what, bool *sel,
		 const char *(*name)(int), int n)
{
	char *copy = strdup(list), *save = NULL, *tok;
	bool ok = true;

	for (int i = 0; i < n; i++)
		sel[i] = !strcmp(list, "all");
	for (tok = strtok_r(copy, ",", &save); tok && strcmp(list, "all");
	     tok = strtok_r(NULL, ",", &save)) {
		int i;

		for (i = 0; i < n && strcmp(name(i), tok); i++)
			;
		if (i == n) {
			fprintf(stderr, "mixfs bench fs: unknown %s '%s' (see --list)\n",
				what, tok);
			ok = false;
		} else {
			sel[i] = true;
		}
	}
	free(copy);
	return ok;
}

static const char *target_name(int i) { return targets[i].name; }
static const char *workload_name(int i) { return bfs_workloads[i].name; }

static int nworkloads(void)
{
	int n = 0;

	while (bfs_workloads[n].name)
		n++;
	return n;
}

static void list_all(void)
{
	puts("targets:");
	for (int i = 0; i < ntargets; i++)
		printf("  %-22s %s\n", targets[i].name, targets[i].detail);
	puts("workloads:");
	for (int i = 0; bfs_workloads[i].name; i++)
		printf("  %-22s %s\n", bfs_workloads[i].name, bfs_workloads[i].what);
}

static void scale_cfg(struct bfs_cfg *c, double seconds)
{
	double s = c->scale;
	uint64_t mib = 1 << 20;

	c->seq_bytes = (uint64_t)(1024 * s + 0.5) * mib;
	c->rand_bytes = (uint64_t)(512 * s + 0.5) * mib;
	if (c->seq_bytes < 4 * mib)
		c->seq_bytes = 4 * mib;
	if (c->rand_bytes < 4 * mib)
		c->rand_bytes = 4 * mib;
	c->seconds = seconds > 0 ? seconds : 20 * s < 0.5 ? 0.5 : 20 * s;
	c->meta_files = 15000 * s < 100 ? 100 : (unsigned)(15000 * s);
	c->small_files = 10000 * s < 100 ? 100 : (unsigned)(10000 * s);
	c->small_dirs = c->small_files >= 1000 ? 100 : 10;
	c->git_files = 1000 * s < 50 ? 50 : (unsigned)(1000 * s);
	c->git_commits = 200 * s < 10 ? 10 : (unsigned)(200 * s);
}

/* One workload on one target for one run: a fresh mount, the workload,
 * the unmount. Fills the report's samples. */
static void run_one(struct report *r, struct bfs_cfg *cfg, int wi, int ti,
		    int run, int first_row, int serial)
{
	const struct bfs_workload *w = &bfs_workloads[wi];
	struct bfs_target *t = &targets[ti];
	struct bfs_sample s[BFS_MAX_ROWS];
	struct bfs_ctx ctx = { .cfg = cfg, .target = t, .rows = w->rows,
			       .samples = s };
	int nrows = 0, ret;

	while (w->rows[nrows])
		nrows++;
	for (int i = 0; i < nrows; i++)
		s[i].value = s[i].cpu_s = s[i].rss_mib = NAN;
	ret = target_mount(t, serial, ctx.err, sizeof(ctx.err));
	if (!ret) {
		bfs_fmt(ctx.dir, sizeof(ctx.dir), "%s/bench", t->mnt);
		if (mkdir(ctx.dir, 0755) < 0)
			ret = bfs_fail(&ctx, -errno, "mkdir %s: %m", ctx.dir);
	}
	if (!ret)
		ret = w->run(&ctx);
	if (ret && t->pid &&
	    (t->kind == TK_PT ? waitpid(t->pid, NULL, WNOHANG) == t->pid
			      : !alive(t->pid))) {
		size_t len = strlen(ctx.err);

		bfs_fmt(ctx.err + len, sizeof(ctx.err) - len,
			" (the daemon, pid %d, is gone)", (int)t->pid);
		t->pid = 0;	/* reaped or not ours: never signal it again */
	}
	target_unmount(t);
	data_discard(t);
	rm_tree(t->root);

	fprintf(stderr, "run %d, %-6s on %-22s", run + 1, w->name, t->name);
	for (int i = 0; i < nrows; i++) {
		*sample(r, first_row + i, ti, run) = s[i];
		if (ret && isnan(s[i].value))
			bfs_fmt(sample_err(r, first_row + i, ti, run), 256,
				 "%s", ctx.err);
		if (!isnan(s[i].value))
			fprintf(stderr, " %s %.1f", w->rows[i], s[i].value);
	}
	if (ret)
		fprintf(stderr, " FAILED: %s", ctx.err);
	fputc('\n', stderr);
}

int mixfs_bench_fs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "scale", required_argument, NULL, 's' },
		{ "quick", no_argument, NULL, 'q' },
		{ "seconds", required_argument, NULL, 'S' },
		{ "targets", required_argument, NULL, 't' },
		{ "workloads", required_argument, NULL, 'w' },
		{ "dir", required_argument, NULL, 'd' },
		{ "passthrough-src", required_argument, NULL, 'p' },
		{ "json", required_argument, NULL, 'j' },
		{ "save", required_argument, NULL, 'n' },
		{ "list", no_argument, NULL, 'l' },
		{ "rados", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *tlist = "all", *wlist = "all", *dir = "/var/tmp";
	const char *rados = NULL;
	const char *pt_src = PT_EXAMPLES, *json = NULL, *save = NULL;
	struct bfs_cfg cfg = { .scale = 1 };
	bool wsel[32] = { false }, tsel[MAX_TARGETS], need_pt = false;
	bool quick = false, failed = false, have_tree, list = false;
	double seconds = 0;
	struct report rep = { .runs = 3 };
	struct machine mach;
	char cache[PATH_MAX], tree[PATH_MAX] = "", *end;
	FILE *tf = stdout;
	int c, nw = nworkloads(), serial = 0;
	ssize_t n;

	make_targets();
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rep.runs = (int)strtol(optarg, &end, 10);
			if (*end || rep.runs < 1 || rep.runs > 99)
				goto bad;
			break;
		case 's':
			cfg.scale = strtod(optarg, &end);
			if (*end || !(cfg.scale > 0) || cfg.scale > 100)
				goto bad;
			break;
		case 'q': quick = true; break;
		case 'S':
			seconds = strtod(optarg, &end);
			if (*end || !(seconds > 0))
				goto bad;
			break;
		case 't': tlist = optarg; break;
		case 'w': wlist = optarg; break;
		case 'd': dir = optarg; break;
		case 'p': pt_src = optarg; break;
		case 'j': json = optarg; break;
		case 'n': save = optarg; break;
		case 'l': list = true; break;
		case 'R': rados = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: goto bad;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mixfs bench fs: unexpected argument '%s'\n",
			argv[optind]);
		goto bad;
	}
	if (rados)
		add_rados_targets(rados);
	if (list) {
		list_all();
		return 0;
	}
	if (quick) {
		cfg.scale = 0.01;
		if (!seconds)
			seconds = 0.5;
	}
	scale_cfg(&cfg, seconds);
	if (!pick(tlist, "target", tsel, target_name, ntargets) ||
	    !pick(wlist, "workload", wsel, workload_name, nw))
		goto bad;
	for (int i = 0; i < ntargets; i++) {
		targets[i].selected = tsel[i];
		need_pt |= tsel[i] && targets[i].kind == TK_PT;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "mixfs bench fs: needs root (it mounts tmpfs and "
			"FUSE filesystems and drops the page cache)\n");
		return 1;
	}
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0) {
		perror("mixfs bench fs: /proc/self/exe");
		return 1;
	}
	self_exe[n] = '\0';
	{
		int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

		cfg.can_drop = fd >= 0;
		if (fd >= 0)
			close(fd);
	}
	if (cache_dir(cache, sizeof(cache)))
		return 1;
	if (need_pt && build_passthrough(cache, pt_src))
		return 1;
	for (int i = 0; i < nw; i++)
		if (wsel[i] && !strcmp(bfs_workloads[i].name, "untar") &&
		    make_tarball(cache, &cfg))
			return 1;

	for (int i = 0; i < nw; i++) {
		for (int k = 0; wsel[i] && bfs_workloads[i].rows[k]; k++) {
			if (rep.nrows == MAX_ROWS)
				break;
			rep.rows[rep.nrows].w = &bfs_workloads[i];
			rep.rows[rep.nrows++].idx = k;
		}
	}
	rep.s = calloc((size_t)rep.nrows * MAX_TARGETS * (size_t)rep.runs,
		       sizeof(*rep.s));
	rep.err = calloc((size_t)rep.nrows * MAX_TARGETS * (size_t)rep.runs,
			 sizeof(*rep.err));
	if (!rep.s || !rep.err) {
		fprintf(stderr, "mixfs bench fs: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < (size_t)rep.nrows * MAX_TARGETS * (size_t)rep.runs; i++)
		rep.s[i].value = rep.s[i].cpu_s = rep.s[i].rss_mib = NAN;

	bfs_fmt(base_dir, sizeof(base_dir), "%s/mixfs-bench-XXXXXX", dir);
	if (!mkdtemp(base_dir)) {
		fprintf(stderr, "mixfs bench fs: mkdtemp in %s: %s\n", dir,
			strerror(errno));
		base_dir[0] = '\0';
		return 1;
	}
	trap_signals();
	have_tree = find_tree(tree, sizeof(tree));
	machine_info(&mach, have_tree ? tree : NULL);
	fprintf(stderr, "mixfs bench fs: %d run%s, scale %g, random phases %g s, in %s\n",
		rep.runs, rep.runs == 1 ? "" : "s", cfg.scale, cfg.seconds,
		base_dir);

	for (int run = 0; run < rep.runs && !bfs_interrupted; run++) {
		int row = 0;

		for (int wi = 0; wi < nw && !bfs_interrupted; wi++) {
			int rows = 0;

			if (!wsel[wi])
				continue;
			while (bfs_workloads[wi].rows[rows])
				rows++;
			for (int ti = 0; ti < ntargets && !bfs_interrupted; ti++)
				if (targets[ti].selected)
					run_one(&rep, &cfg, wi, ti, run, row,
						serial++);
			row += rows;
		}
	}

	cleanup_all();
	for (size_t i = 0; i < (size_t)rep.nrows * MAX_TARGETS * (size_t)rep.runs; i++)
		failed |= rep.err[i][0] != '\0';

	if (json && !strcmp(json, "-"))
		tf = stderr;
	print_table(tf, &rep, &cfg);
	if (json) {
		FILE *f = strcmp(json, "-") ? fopen(json, "w") : stdout;

		if (!f) {
			fprintf(stderr, "mixfs bench fs: %s: %s\n", json,
				strerror(errno));
			failed = true;
		} else {
			write_json(f, &rep, &cfg, &mach, argc, argv);
			if (f != stdout && fclose(f) != 0)
				failed = true;
		}
	}
	if (save) {
		char path[PATH_MAX * 2];
		FILE *f;

		if (!have_tree) {
			fprintf(stderr, "mixfs bench fs: --save: no bench/results above "
				"the current directory or %s\n", self_exe);
			failed = true;
		} else {
			bfs_fmt(path, sizeof(path), "%s/bench/results/%.10s-%s.json",
				 tree, mach.date, save);
			f = fopen(path, "w");
			if (!f) {
				fprintf(stderr, "mixfs bench fs: %s: %s\n", path,
					strerror(errno));
				failed = true;
			} else {
				write_json(f, &rep, &cfg, &mach, argc, argv);
				fclose(f);
				fprintf(stderr, "saved %s\n", path);
			}
		}
	}
	free(rep.s);
	free(rep.err);
	if (bfs_interrupted)
		return 130;
	return failed ? 1 : 0;
bad:
	fputs(usage, stderr);
	return 2;
}
