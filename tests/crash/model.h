/*
 * model.h - what a crash may and may not take away: a POSIX model of a
 * small directory tree, fed with the operations a workload performs and
 * with the fsyncs that returned, and checked against the real tree after
 * the crash.
 *
 * The model keeps, for every directory, each name's binding as of the
 * last acknowledged fsync of that directory plus every binding the name
 * has had since; and for every file, its contents as of its last
 * acknowledged fsync plus every version it has had since. After a crash
 * a name may show any of its bindings and a file any size among its
 * versions, each byte from one of its versions (POSIX orders nothing that
 * was not acknowledged, and a write may be torn). Names and contents with
 * no change since their acknowledgement must be exactly as acknowledged.
 * docs/testing.md ("Crash consistency") states the rules.
 *
 * The journal (journal.c) is the model's input: one line per operation
 * before it runs and one per result after. This file does no I/O on the
 * tree except in model_check; it does not decide which operations to run
 * (workload.c does).
 */
#ifndef MIXFS_CRASH_MODEL_H
#define MIXFS_CRASH_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CRASH_PATH_MAX	256
#define CRASH_FILE_MAX	(512u << 10)	/* no workload makes a bigger file */

enum cop {
	COP_CREATE,		/* open(O_CREAT|O_EXCL|O_WRONLY), close */
	COP_MKDIR,
	COP_RMDIR,
	COP_UNLINK,
	COP_LINK,		/* link(path, path2) */
	COP_RENAME,		/* rename(path, path2) */
	COP_WRITE,		/* pwrite of len bytes at off, data from seed */
	COP_TRUNCATE,		/* open(O_WRONLY), ftruncate to off, close */
	COP_FSYNC,		/* open, fsync, close (files and directories) */
	COP_FDATASYNC,
	COP_NR
};

struct cop_rec {
	enum cop op;
	char path[CRASH_PATH_MAX];	/* relative to the tree's root; "." */
	char path2[CRASH_PATH_MAX];	/* link and rename targets */
	uint64_t off, len, seed;
};

/* The byte a write with data seed @seed puts at file offset @off: it
 * depends on the offset, so a checker can regenerate any byte. */
unsigned char crash_data_byte(uint64_t seed, uint64_t off);
void crash_data_fill(uint64_t seed, uint64_t off, unsigned char *buf,
		     size_t len);

const char *cop_name(enum cop op);
/* Parse an operation name; -1 if unknown. */
int cop_parse(const char *name);
/* One line (no newline) describing @op, as the journal writes it. */
int cop_format(const struct cop_rec *op, char *buf, size_t size);

struct model;

/* A model of an empty root directory whose existence is acknowledged. */
struct model *model_new(void);
/* The same, keeping sizes but not bytes: for predicting results only
 * (model_check must not be called on it). */
struct model *model_new_sizes_only(void);
void model_free(struct model *m);

/*
 * What the operation would return on a POSIX filesystem in the modelled
 * state: 0 (writes: the length) or a negative errno. Changes nothing.
 */
long model_predict(struct model *m, const struct cop_rec *op);

/*
 * Apply @op, which returned @ret (>= 0) on the real filesystem. @ino is
 * the inode number create and mkdir made (0: unknown, the reply was lost
 * with the daemon). A write applies @ret bytes. An fsync acknowledges:
 * a file's contents, or a directory's entries. @step numbers messages.
 * Returns 0, or -EINVAL if the model predicted a failure (the operation
 * is then not applied).
 */
int model_apply(struct model *m, const struct cop_rec *op, long ret,
		uint64_t ino, uint64_t step);

/*
 * Apply an operation whose outcome is unknown (the daemon died while it
 * ran): it may or may not have happened, so its effects become possible,
 * never required. Acknowledges nothing.
 */
void model_apply_maybe(struct model *m, const struct cop_rec *op,
		       uint64_t step);

/* Number of fsyncs that acknowledged something so far. */
uint64_t model_acks(const struct model *m);

/* Number of contents kept for the file at @path (1 right after an
 * acknowledged fsync), 0 if @path is not a file. */
int model_versions(struct model *m, const char *path);

/*
 * Paths of the existing files (@dirs false) or directories (@dirs true,
 * "." for the root) in the current state, up to @max of them, each
 * malloc'd (free with model_free_paths). Returns how many. @depth gets
 * each one's depth (root 0) when not NULL.
 */
int model_list(struct model *m, bool dirs, char **paths, int *depth, int max);
void model_free_paths(char **paths, int n);

/* Would @path's parent hold a directory and @path nothing right now? */
bool model_is_dir(struct model *m, const char *path);
bool model_exists(struct model *m, const char *path);
/* Current size of the file at @path, 0 if none. */
uint64_t model_size(struct model *m, const char *path);

/*
 * Check the real tree at @root against everything acknowledged. One line
 * per difference to @out, each naming the path, what was found and what
 * was allowed, prefixed with @tag. Returns the number of differences;
 * *@names and *@files (may be NULL) get how many names and file contents
 * were compared, *@older how many of them showed an allowed state other
 * than the last one (unacknowledged changes the crash took away).
 */
int model_check(struct model *m, const char *root, FILE *out,
		const char *tag, long *names, long *files, long *older);

#endif
