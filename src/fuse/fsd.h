/*
 * fsd.h - the thin FUSE layer: the manual.
 *
 * The layer mounts a driver with libfuse3's low-level API and a
 * multi-threaded session loop, parses mount options once, answers the
 * control directory `.mixfs/` itself, and hands every other request straight
 * to the driver's `struct fuse_lowlevel_ops` table. It imposes nothing else:
 * no cache, no inode table, no locking. What it offers beyond dispatch are
 * helpers a driver may call (fsd_itable_*, fsd_opts_*), never steps forced on
 * every request.
 *
 * Requests and replies: a driver's handlers follow fuse_lowlevel.h exactly
 * (each request gets exactly one reply, of the kinds libfuse documents for
 * that operation). fuse_req_userdata(req) is the driver's struct fsd_mount,
 * which the driver embeds in its own mount structure (container_of).
 *
 * Control directory: the name `.mixfs` in the root directory is answered by
 * this layer; it is not listed by readdir (like a snapshot directory), so
 * `ls -a` and `rm -rf` never see it. Inode numbers at or above
 * FSD_CTL_INO_BASE belong to it: drivers must stay below.
 *   .mixfs/ctl     write a command, read back the answer on the same open
 *                  file; a fresh open reads the `status` answer. A bad
 *                  command fails the write (-EINVAL, ...) and the reason is
 *                  what reading returns afterwards. Commands: status, help,
 *                  the events library's (threshold ..., events status) and
 *                  the driver's.
 *   .mixfs/events  (when the driver opened events) JSON lines of events
 *                  emitted after the open; a read returns what came since
 *                  the last one (0 bytes, or EAGAIN with O_NONBLOCK, when
 *                  nothing did), poll() wakes on new ones.
 *   .mixfs/socket  the path of the Unix-socket event feed, and a newline.
 */
#ifndef MIXFS_FUSE_FSD_H
#define MIXFS_FUSE_FSD_H

/*
 * 3.12: below it, fuse_session_loop_mt() is the 3.2 entry point, which
 * reads a struct fuse_loop_config as the old two-field struct; the idle
 * thread limit then comes out as 0 and every request gets a new thread.
 */
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "events/events.h"
#include "util/err.h"

#define FSD_CTL_INO_BASE	(UINT64_C(0xffffffffffff0000))
#define FSD_CTL_NAME		".mixfs"

/* A growable text buffer for status and control answers. */
struct fsd_buf {
	char *data;
	size_t len, cap;
};
void fsd_buf_printf(struct fsd_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void fsd_buf_release(struct fsd_buf *b);

/* --- Mount options ------------------------------------------------------ */

/* Options the layer itself understands; the rest go to the driver. */
struct fsd_opts {
	bool readonly;		/* ro */
	bool allow_other;	/* default when mounted by root */
	bool nonempty;		/* allow a non-empty mount point */
	bool debug;		/* libfuse request tracing */
	unsigned max_threads;	/* max_threads=N (default 8) */
	/* Events options: space_low=, space_ok=, inodes_low=, inodes_ok=,
	 * errors=, events_keep=, events_ring=, events_socket=,
	 * store_timeout= (events.h). */
	struct evt_opts ev;
	/* Driver options "key=value" or "key", in the order given. */
	char **drv;
	size_t ndrv;
};

/*
 * Parse a comma-separated option string (as after -o; may be given several
 * times, each call adds). A backslash makes the next character plain, so
 * "\," is a comma inside a value. Generic options go into @o, others into
 * o->drv. -EINVAL with a message for a malformed option.
 */
int fsd_opts_parse(struct fsd_opts *o, const char *text, struct mixfs_err *err);
void fsd_opts_release(struct fsd_opts *o);

/* --- Drivers ------------------------------------------------------------ */

struct fsd_mount;

struct fsd_mkfs_args {
	uint64_t size;		/* capacity in bytes, 0 = the store's default */
	bool force;		/* overwrite an existing filesystem */
	const char *data;	/* store for file data, NULL: the driver's
				 * default (meaning is the driver's) */
};

struct fsd_driver {
	const char *name;
	const char *summary;

	/* Format the store at @uri (creating it). -EEXIST if it holds a
	 * filesystem and !a->force. */
	int (*mkfs)(const char *uri, const struct fsd_mkfs_args *a,
		    struct mixfs_err *err);
	/*
	 * Open the filesystem at @uri for mounting, checking driver options
	 * in @o (-EINVAL for unknown ones). On success *@out is the driver's
	 * mount state (embedding struct fsd_mount). -ENOENT when the store
	 * holds no filesystem of this driver.
	 */
	int (*open)(const char *uri, const struct fsd_opts *o,
		    struct fsd_mount **out, struct mixfs_err *err);
	/* Flush and free everything open() made. */
	void (*close)(struct fsd_mount *m);
	/* Append "key: value" lines describing the mounted filesystem. */
	void (*status)(struct fsd_mount *m, struct fsd_buf *out);
	/* A control command the layer does not know (may be NULL): answer in
	 * @out, or fail with -EINVAL and a message. */
	int (*ctl)(struct fsd_mount *m, const char *cmd, struct fsd_buf *out,
		   struct mixfs_err *err);
	/*
	 * Check the filesystem at @uri (not mounted). Writes one line per
	 * problem to @out. Returns the number of problems found (>= 0), or a
	 * negative errno if it could not check. With @repair, fixes what it
	 * can; the return value then counts problems left.
	 */
	int (*fsck)(const char *uri, bool repair, struct fsd_buf *out,
		    struct mixfs_err *err);

	const struct fuse_lowlevel_ops *ll;
};

/* All drivers built into the program, NULL-terminated, and a lookup by
 * name: defined by the program (tools/drivers.c), not by this layer. */
extern const struct fsd_driver *const fsd_drivers[];
const struct fsd_driver *fsd_driver_find(const char *name);

/*
 * Requests served, by kind, for the status text: counted by the layer as
 * it hands a request to the driver (control files are not counted). Each
 * counter is a relaxed atomic alone on its cache line: no lock, and
 * threads serving different kinds do not share a line.
 */
enum fsd_op {
	FSD_OP_LOOKUP, FSD_OP_GETATTR, FSD_OP_SETATTR, FSD_OP_OPEN,
	FSD_OP_READ, FSD_OP_WRITE, FSD_OP_CREATE, FSD_OP_MKDIR,
	FSD_OP_SYMLINK, FSD_OP_LINK, FSD_OP_UNLINK, FSD_OP_RMDIR,
	FSD_OP_RENAME, FSD_OP_READDIR, FSD_OP_FSYNC, FSD_OP_STATFS,
	FSD_OP_COUNT,
};
struct fsd_op_count {
	uint64_t n;		/* __atomic builtins, relaxed */
	char pad[56];
};

/* Per-mount state of the layer; drivers embed it. */
struct fsd_mount {
	const struct fsd_driver *driver;
	const char *uri;		/* set by the layer */
	const char *mountpoint;		/* set by the layer */
	struct fuse_session *se;
	struct fsd_opts opts;
	/* The layer's own, set by fsd_serve(): the table libfuse calls (the
	 * driver's with the control-directory entries wrapped). */
	struct fuse_lowlevel_ops ll;
	time_t mounted_at;
	/* Events, when the driver opened them with fsd_events_open(). */
	struct evt *events;
	struct evt_feed *feed;
	char socket[108];
	struct fsd_op_count ops[FSD_OP_COUNT];
};

/* --- Helper: events ----------------------------------------------------- */

/*
 * Open the events of @m for a filesystem with @uuid, kept in @store (may be
 * NULL: memory only) with the options the layer parsed (m->opts.ev). A
 * driver calls this from its open; fsd_serve() then starts the socket feed,
 * serves .mixfs/events and emits mounted/unmounted. The driver reports
 * space, store calls and I/O errors through m->events (events.h) and calls
 * fsd_events_close() from its close, before closing @store.
 */
int fsd_events_open(struct fsd_mount *m, const unsigned char uuid[16],
		    struct evt_store *store, struct mixfs_err *err);
void fsd_events_close(struct fsd_mount *m);

/*
 * Carry out an I/O error: emit io_error and do what errors= asks (remount
 * read-only: sets m->opts.readonly and emits remounted_ro; unmount: ends
 * the session). Returns the action taken.
 */
enum evt_errors fsd_io_error(struct fsd_mount *m, const char *op,
			     uint64_t ino, int rc);

/*
 * Mount @m (already opened by its driver) at @mountpoint and serve requests
 * until unmounted or signalled. If @ready_fd >= 0, writes one byte '0'
 * there once the mount is ready, then closes it (used to tell a waiting
 * parent process). Returns 0 after a clean unmount, else a negative errno
 * with a message in @err.
 */
int fsd_serve(struct fsd_mount *m, const char *mountpoint, int ready_fd,
	      struct mixfs_err *err);

/* --- Helper: inode reference table -------------------------------------- */

/*
 * Lookup counts as the kernel sees them: every reply that creates a dentry
 * or entry adds one, forget drops n. A driver that must keep an unlinked
 * inode until the kernel forgets it uses this. Thread-safe (own lock).
 */
struct fsd_itable {
	pthread_mutex_t lock;
	struct fsd_iref *slots;		/* open addressing, power of 2 */
	size_t nslots, used;
};
int fsd_itable_init(struct fsd_itable *t);
void fsd_itable_release(struct fsd_itable *t);
/* Add @n references to @ino. -ENOMEM. */
int fsd_itable_ref(struct fsd_itable *t, uint64_t ino, uint64_t n);
/* Drop @n references; returns the count left (0: the kernel forgot it). */
uint64_t fsd_itable_unref(struct fsd_itable *t, uint64_t ino, uint64_t n);
/* Current count of @ino (0 if unknown). */
uint64_t fsd_itable_count(struct fsd_itable *t, uint64_t ino);

#endif
