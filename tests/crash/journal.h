/*
 * journal.h - running operations on a real tree and keeping the record
 * of them (the manifest) outside it, and reading that record back into a
 * model after a crash.
 *
 * Record lines:
 *   B                         the tree's root exists and is acknowledged
 *   I <step> <op...>          an operation is about to run (cop_format)
 *   R <step> <ret> <ino>      it returned <ret> (>= 0, or -errno)
 *   E                         the workload finished without a crash
 *   # ...                     a comment (ACE sequences describe themselves)
 * Every line is one write(2) on an O_APPEND descriptor. After the result
 * of an fsync that succeeded, the journal is fsynced too: the journal
 * never claims an acknowledgement the filesystem did not give, and it
 * holds every acknowledgement given before the crash.
 *
 * A result of -ENOTCONN, -ECONNABORTED or -EIO means the daemon (or its
 * store) went away during the operation: it may or may not have happened.
 * In a power-loss run (crash_power_loss set) -EROFS means the same: the
 * daemon may turn read-only when its store fails under it.
 */
#ifndef MIXFS_CRASH_JOURNAL_H
#define MIXFS_CRASH_JOURNAL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "model.h"

struct journal {
	int fd;
	const char *root;	/* the tree the operations work in */
	int rootfd;		/* open on it: a detached mount stays dead */
	struct model *m;	/* the model they are applied to as they run */
	uint64_t step;		/* of the last operation */
	bool gone;		/* the filesystem went away */
	int mismatches;		/* results the model did not predict */
	FILE *log;		/* where mismatches are described */
};

/* A result that says the daemon or its store went away. */
bool crash_gone(long ret);
extern bool crash_power_loss;

/*
 * Set (by crash_cut_after()'s thread) just before the power is cut. An
 * operation that returns after that is journalled as cut off (result
 * -ECANCELED, which crash_gone() counts as gone), whatever it returned:
 * an fsync in flight when ext4 shuts down can return 0 and still be
 * lost (seen without mixfs: append + fdatasync to a plain file), so
 * only what returned before the cut began counts as acknowledged.
 */
extern atomic_bool crash_cut_started;

/* Cut the power of @dir's filesystem (crash_shutdown) @ms milliseconds
 * from now, from a thread of its own. 0 or -errno. */
int crash_cut_after(const char *dir, unsigned ms);

/*
 * Cut the power to the filesystem holding @dir: FS_IOC_SHUTDOWN without
 * flushing the log (ext4 and XFS), so that everything not yet on the
 * device is lost, as xfstests' shutdown tests do. 0 or -errno.
 */
int crash_shutdown(const char *dir);

/* Create the journal at @path (it must not exist) for the tree @root. */
int journal_open(struct journal *j, const char *path, const char *root,
		 FILE *log);
void journal_close(struct journal *j);
/* Write one record line (no newline in @fmt). */
void journal_printf(struct journal *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int journal_sync(struct journal *j);

/*
 * Make @root (mkdir, fsync it and its parent), and record B. -errno if
 * any of it failed (then nothing is recorded).
 */
int journal_begin(struct journal *j);

/*
 * Run @op in the tree: record it, do it, record the result and apply it
 * to the model. A result the model did not predict counts a mismatch and
 * is described on the log. Returns the result (>= 0 or -errno).
 */
long journal_run(struct journal *j, const struct cop_rec *op);

struct replay {
	bool began, ended;
	uint64_t steps;		/* operations recorded */
	uint64_t last_step;
	bool gone;		/* some operation saw the daemon go */
	int mismatches;		/* results a POSIX filesystem would not give */
	char last_op[CRASH_PATH_MAX * 2 + 64];
};

/*
 * Read the journal at @path into @m. Operations with no result, or whose
 * result says the filesystem went away, become possible, not required.
 * Mismatches are described on @out. Returns 0 or -errno (unreadable or
 * malformed journal).
 */
int journal_replay(const char *path, struct model *m, struct replay *r,
		   FILE *out);

#endif
