/*
 * bench_fs.h - what the two halves of `mixfs bench fs` share: bench_fs.c
 * owns the targets (mounting, remounting, daemon accounting, cleanup) and
 * the report; bench_fs_work.c owns the workloads, which see a target only
 * as a directory plus the calls below.
 *
 * A workload is a sequence of timed phases. Each phase becomes one row of
 * the report ("seq-write", "meta-stat", ...); the workload names its rows
 * up front in its table entry so that the report can order them and show a
 * row that failed.
 */
#ifndef MIXFS_TOOLS_BENCH_FS_H
#define MIXFS_TOOLS_BENCH_FS_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BFS_MAX_ROWS	6	/* phases per workload */

/* Sizes and lengths, already scaled by --scale / --quick. */
struct bfs_cfg {
	double scale;
	double seconds;		/* length of each random I/O phase */
	uint64_t seq_bytes;	/* sequential file */
	uint64_t rand_bytes;	/* random I/O file */
	unsigned meta_files;	/* empty files in one directory */
	unsigned small_files;	/* 4 KiB files ... */
	unsigned small_dirs;	/* ... spread over this many directories */
	unsigned git_files;	/* worktree files of the git-like workload */
	unsigned git_commits;	/* commits it makes */
	char tarball[PATH_MAX];	/* tar of /usr/include, made once */
	unsigned tar_entries;	/* names in it */
	bool can_drop;		/* we may write /proc/sys/vm/drop_caches */
};

/* One phase's outcome, filled by bfs_phase_end(). */
struct bfs_sample {
	double value;		/* rate in the row's unit; NaN when it failed */
	double cpu_s;		/* daemon user+system seconds; NaN: no daemon */
	double rss_mib;		/* daemon VmHWM at the end; NaN: no daemon */
};

struct bfs_target;

/*
 * A workload's view of one target for one run. @dir is an empty directory
 * inside the target, where the workload may do anything. The harness owns
 * everything else.
 */
struct bfs_ctx {
	const struct bfs_cfg *cfg;
	struct bfs_target *target;
	char dir[PATH_MAX];
	const char *const *rows;	/* the workload's row names */
	struct bfs_sample *samples;	/* one per row, in row order */
	char err[256];			/* why the workload failed */
	/* phase in progress */
	int row;
	double t0, cpu0;
};

struct bfs_workload {
	const char *name;		/* what --workloads names */
	const char *what;		/* one line for --help and the JSON */
	int (*run)(struct bfs_ctx *ctx);
	const char *rows[BFS_MAX_ROWS];	/* NULL-terminated */
	const char *units[BFS_MAX_ROWS];
};

/* The workloads, NULL-name-terminated (bench_fs_work.c). */
extern const struct bfs_workload bfs_workloads[];

/* Set by SIGINT/SIGTERM/SIGHUP; workloads stop at the next operation. */
extern volatile sig_atomic_t bfs_interrupted;

/*
 * Start timing row @row (an index into ctx->rows) and note the daemon's
 * CPU time.
 */
void bfs_phase_begin(struct bfs_ctx *ctx, int row);

/*
 * End the phase begun last: the row's value is @amount (bytes for MiB/s
 * rows, operations for ops/s rows) over the elapsed time, and the daemon's
 * CPU seconds and peak RSS are recorded beside it.
 */
void bfs_phase_end(struct bfs_ctx *ctx, double amount);

/*
 * Make the next read cold: sync, unmount and remount a FUSE target (its
 * daemon's own caches go too), then drop the kernel's page, dentry and
 * inode caches. Returns 0 or a negative errno with ctx->err set; a failed
 * remount leaves the target unusable for this run.
 */
int bfs_cold(struct bfs_ctx *ctx);

/*
 * Record why the workload fails (printf-style, into ctx->err) and return
 * @code (a negative errno) so that callers can `return bfs_fail(...)`.
 */
int bfs_fail(struct bfs_ctx *ctx, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Run @argv (a program looked up in PATH) with stdout and stderr sent to
 * /dev/null, wait for it. Returns 0 if it exited 0, else -EIO (or -EINTR
 * when interrupted), with ctx->err saying what happened.
 */
int bfs_run(struct bfs_ctx *ctx, char *const argv[]);

/*
 * snprintf for paths and messages, where a truncated result is harmless
 * (the path then does not exist and the call on it fails with a message).
 */
void bfs_fmt(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Monotonic time in seconds. */
double bfs_now(void);

#endif
