/*
 * tablefs.h - the default mixfs filesystem: metadata in RocksDB in the
 * TableFS manner, file data inline or in an object store.
 *
 * This is the driver's core, callable without FUSE (tests drive it
 * in-process); tablefs_fuse.c maps FUSE requests onto it. Every call
 * returns 0 (or a count) or a negative errno.
 *
 * Layout in the RocksDB database (keys by first byte):
 *   'S'                 superblock: magic, version, inline limit
 *   'N'                 next inode number (never reused)
 *   'i' ino             inode record, followed by inline data or a
 *                       symlink target
 *   'd' ...             directory entries (dirlib kv strategy)
 *   'x' ino name        extended attribute value
 *   'r' ino             orphan: unlinked while still open, freed at forget
 *                       or at the next mount
 *   'D'                 URI of the store holding file data (absent: this
 *                       database); written at mkfs, never changed
 *   'o' ...             the rocksdb: object store (file data when there
 *                       is no 'D' record; the event log)
 * Inode numbers are big-endian in keys so they sort numerically.
 *
 * File data: a regular file of at most inline_max bytes lives in its inode
 * record; a larger one in object <ino> of the data store: the store the
 * 'D' record names (with mkfs --data dir:data, host files in a
 * directory beside the RocksDB files, as TableFS keeps large files), or
 * the same database (mkfs's default), or for one mount the data= store given. Data is written to the object before the
 * inode records the new size, so a crash never exposes unwritten data.
 *
 * Consistency: every metadata operation is one atomic RocksDB write batch.
 * fsync makes everything before it durable: the data store synced first,
 * then RocksDB's write-ahead log, so a durable size never covers data
 * that is not.
 *
 * Locking: tfs->lock serialises every call that changes something; reads
 * (lookup, getattr, read, readdir, readlink, getxattr) take no lock and see
 * either the state before or after any change, as RocksDB batches are
 * atomic.
 */
#ifndef MIXFS_TABLEFS_H
#define MIXFS_TABLEFS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include <rocksdb/c.h>

#include "fuse/fsd.h"
#include "objstore/objstore.h"
#include "util/err.h"

#define TFS_ROOT_INO		1
#define TFS_INLINE_MAX_DEFAULT	4096
#define TFS_SYMLINK_MAX		4095
#define TFS_XATTR_NAME_MAX	255
#define TFS_XATTR_SIZE_MAX	65536

struct tfs {
	struct fsd_mount mount;		/* embedded anchor for the FUSE layer */
	struct objstore *meta;		/* rocksdb: store holding metadata */
	struct objstore *data;		/* file data (== meta by default) */
	rocksdb_t *db;			/* meta's database */
	rocksdb_readoptions_t *ropts;
	rocksdb_writeoptions_t *wopts;	/* unsynced: fsync syncs the WAL */
	rocksdb_writeoptions_t *wopts_sync;
	uint32_t inline_max;
	bool readonly;
	bool writeback;			/* kernel writeback cache (mount option) */
	bool acl;			/* POSIX ACLs (mount option acl) */
	unsigned char uuid[16];
	uint64_t meta_fail_at;		/* tfs_meta_faults(); 0: none */
	uint64_t meta_calls;		/* counted while meta_fail_at != 0 */

	pthread_mutex_t lock;		/* serialises every change */
	uint64_t next_ino;		/* under lock */
	struct fsd_itable refs;		/* kernel lookup counts */
	struct fsd_itable opens;	/* open files per inode */
	struct evt_store *evstore;	/* event log in meta, when mounted */
	struct tfs_scrub *scrub;	/* made by the first scrub start (set
					 * under lock, read atomically) */
};

/* Owner and group for new inodes (the caller of the request). */
struct tfs_cred {
	uid_t uid;
	gid_t gid;
};

/*
 * Format the store at @uri (a rocksdb: URI, created with capacity @size
 * bytes when @size is non-zero) with an empty root directory, file data
 * in the same database. -EEXIST if it already holds a filesystem and
 * !@force.
 */
int tfs_mkfs(const char *uri, uint64_t size, bool force,
	     struct mixfs_err *err);

/*
 * tfs_mkfs() with file data (of files beyond the inline size) in the store
 * @data_uri, which the filesystem records and every later open uses. A
 * dir: path not starting with '/' is relative to the directory of the
 * rocksdb: store, so "dir:data" keeps both in one directory that can be
 * moved as a whole. NULL: the metadata store itself. @size bounds both
 * stores. With @force, the data store's objects are removed as well, and
 * those of the store the old filesystem recorded. "same" is NULL; a URI
 * tfs_data_uri_check() refuses is refused before anything is touched.
 * force=1 in @data_uri (rados:, alone or behind cache:) applies to this
 * open only and is not recorded. When that open broke another client's
 * lock, @err holds a note on success: code 0 and the sentence of
 * objstore_rados_broken_lock(), for the caller to show.
 */
int tfs_mkfs_data(const char *uri, const char *data_uri, uint64_t size,
		  bool force, struct mixfs_err *err);

/*
 * The TableFS layout: larger files' data in host files beside the RocksDB
 * metadata. Several times faster for large sequential writes, but not
 * mkfs's default: the two stores are ordered only by fsync, so after a
 * power cut a file changed since its last fsync can read as an error
 * (docs/tablefs.md, "Power loss and the data store"). mkfs's default is
 * "same", everything in RocksDB, where one write-ahead log orders it all.
 */
#define TFS_DATA_DIR "dir:data"

/*
 * Whether @data can name a file data store at mkfs: "same", or a URI of a
 * persistent store (dir:, rocksdb:, rados:, cache:, faulty:) that names a
 * place. Looks at the text only. 0, or -EINVAL with a sentence in @err
 * (unknown scheme, mem:, no path).
 */
int tfs_data_uri_check(const char *data, struct mixfs_err *err);

/*
 * Open the filesystem at @uri, with file data in the store recorded at
 * mkfs. @data_uri, when not NULL, replaces that store for this open only
 * (fault injection, a data store that moved); it is not recorded. -ENOENT
 * if no tablefs is there, -EPROTO for another version, -EBUSY if it is
 * open elsewhere, -EUCLEAN if corrupt. A note on success as for
 * tfs_mkfs_data() (a lock force=1 broke). A cache: data store's warnings
 * become events of the mount (cache_degraded, cache_ok,
 * checksum_corrected) once fs->mount.events is open.
 */
int tfs_open(const char *uri, const char *data_uri, bool readonly,
	     struct tfs **out, struct mixfs_err *err);
/* Free orphans the kernel no longer references, flush, close. */
void tfs_close(struct tfs *fs);

/*
 * Fault injection for tests, the metadata's counterpart of a faulty: data
 * store: with @nth > 0, count the calls tablefs makes to its RocksDB from
 * now on (gets, scans, batch writes) and fail the @nth with -EIO, once;
 * 0 stops counting. tfs_meta_calls() returns the calls counted since.
 * Unlike a real RocksDB error, which can persist (after a failed log write
 * RocksDB refuses writes until it is reopened), this fault is a one-off.
 */
void tfs_meta_faults(struct tfs *fs, uint64_t nth);
uint64_t tfs_meta_calls(struct tfs *fs);

int tfs_lookup(struct tfs *fs, uint64_t parent, const char *name,
	       struct stat *st);
int tfs_getattr(struct tfs *fs, uint64_t ino, struct stat *st);
/* @to_set: FUSE_SET_ATTR_* bits; FUSE_SET_ATTR_KILL_SUID clears
 * set-user-ID, FUSE_SET_ATTR_KILL_SGID set-group-ID when group-execute is
 * set (the caller decides whether the caller of the request may keep
 * them). Returns the new attributes in @out. */
int tfs_setattr(struct tfs *fs, uint64_t ino, const struct stat *attr,
		int to_set, struct stat *out);

int tfs_mknod(struct tfs *fs, uint64_t parent, const char *name, mode_t mode,
	      dev_t rdev, const struct tfs_cred *c, struct stat *out);
/* tfs_mknod() of a regular file that is open when it appears (see
 * tfs_open_file()): what the FUSE create request does. */
int tfs_create(struct tfs *fs, uint64_t parent, const char *name,
	       mode_t mode, const struct tfs_cred *c, struct stat *out);
int tfs_mkdir(struct tfs *fs, uint64_t parent, const char *name, mode_t mode,
	      const struct tfs_cred *c, struct stat *out);
/*
 * The three calls above for a caller that leaves the umask to the
 * filesystem (the kernel does with ACLs on: FUSE_CAP_DONT_MASK): with
 * fs->acl a new node takes its parent's default ACL, which decides its
 * permission bits (and its access ACL, and a directory's default ACL);
 * only where the parent has none is @umask cleared from @mode. Without
 * fs->acl, @umask is cleared from @mode. The plain calls pass 0.
 */
int tfs_mknod_umask(struct tfs *fs, uint64_t parent, const char *name,
		    mode_t mode, mode_t umask, dev_t rdev,
		    const struct tfs_cred *c, struct stat *out);
int tfs_create_umask(struct tfs *fs, uint64_t parent, const char *name,
		     mode_t mode, mode_t umask, const struct tfs_cred *c,
		     struct stat *out);
int tfs_mkdir_umask(struct tfs *fs, uint64_t parent, const char *name,
		    mode_t mode, mode_t umask, const struct tfs_cred *c,
		    struct stat *out);
int tfs_symlink(struct tfs *fs, uint64_t parent, const char *name,
		const char *target, const struct tfs_cred *c,
		struct stat *out);
int tfs_link(struct tfs *fs, uint64_t ino, uint64_t newparent,
	     const char *newname, struct stat *out);
int tfs_unlink(struct tfs *fs, uint64_t parent, const char *name);
int tfs_rmdir(struct tfs *fs, uint64_t parent, const char *name);
/* @flags: RENAME_NOREPLACE, RENAME_EXCHANGE. */
int tfs_rename(struct tfs *fs, uint64_t parent, const char *name,
	       uint64_t newparent, const char *newname, unsigned flags);
/* Returns the target length; @buf gets the target NUL-terminated. */
ssize_t tfs_readlink(struct tfs *fs, uint64_t ino, char *buf, size_t size);

ssize_t tfs_read(struct tfs *fs, uint64_t ino, uint64_t off, void *buf,
		 size_t len);
/* Returns the count written: @len, or less when the write crosses the
 * largest file size (OBJSTORE_MAX_SIZE), as POSIX asks; -EFBIG when none
 * of it fits; another negative errno when nothing was written. */
ssize_t tfs_write(struct tfs *fs, uint64_t ino, uint64_t off,
		  const void *buf, size_t len);
/* mode: 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE. */
int tfs_fallocate(struct tfs *fs, uint64_t ino, int mode, uint64_t off,
		  uint64_t len);
/* SEEK_DATA / SEEK_HOLE. */
int tfs_lseek(struct tfs *fs, uint64_t ino, off_t off, int whence,
	      off_t *out);
int tfs_fsync(struct tfs *fs, uint64_t ino, bool datasync);

/* Calls @fn for entries with cookie > @after ("." and ".." are the
 * caller's, cookies 0 and 1). @fn returns non-zero to stop. */
int tfs_readdir(struct tfs *fs, uint64_t ino, uint64_t after,
		int (*fn)(void *arg, const char *name, uint64_t ino,
			  unsigned char type, uint64_t cookie),
		void *arg);
/* The parent of directory @ino (the root is its own parent). */
int tfs_parent(struct tfs *fs, uint64_t ino, uint64_t *parent);

int tfs_statfs(struct tfs *fs, struct statvfs *sv);

/* @flags: XATTR_CREATE, XATTR_REPLACE. */
int tfs_setxattr(struct tfs *fs, uint64_t ino, const char *name,
		 const void *val, size_t len, int flags);
ssize_t tfs_getxattr(struct tfs *fs, uint64_t ino, const char *name,
		     void *buf, size_t size);
ssize_t tfs_listxattr(struct tfs *fs, uint64_t ino, char *buf, size_t size);
int tfs_removexattr(struct tfs *fs, uint64_t ino, const char *name);

/* Kernel lookup references: add on every entry reply, drop on forget.
 * Dropping the last reference of an unlinked inode frees it (forget then
 * returns true). */
void tfs_ref(struct tfs *fs, uint64_t ino);
bool tfs_forget(struct tfs *fs, uint64_t ino, uint64_t n);
/*
 * An open file of @ino began (0, or -ENOMEM) or ended. An inode whose last
 * name goes while nobody has it open is deleted with the name; one that is
 * open lives on as an orphan until its last close (or the kernel forgets
 * it). tfs_close_file() returns true when it freed the inode.
 */
int tfs_open_file(struct tfs *fs, uint64_t ino);
bool tfs_close_file(struct tfs *fs, uint64_t ino);

/* Check every invariant of the filesystem at @uri (not mounted); one line
 * per problem into @out (with @repair: the problem and what was done).
 * Returns the number of problems (with @repair: those left unrepaired),
 * or -errno. */
int tfs_fsck(const char *uri, bool repair, struct fsd_buf *out,
	     struct mixfs_err *err);

/*
 * Scrub (scrub.c): read every record of the database and all file data in
 * a background thread, so that the stores verify their checksums; each
 * damaged range is a checksum_error event (op "scrub", ino, path when
 * found, offset, length, store), a range a cache: store repaired from its
 * remote a checksum_corrected one, a read that fails otherwise an io_error
 * (reported only: the errors= policy is not applied). docs/tablefs.md,
 * "Scrub". The thread holds no lock of the filesystem; files changed or
 * removed meanwhile are not errors.
 *
 * tfs_scrub_start(): start one, reading at most @rate bytes per second (0:
 * no limit). -EBUSY while one runs, -ENOMEM, -EAGAIN (no thread).
 * tfs_scrub_cancel(): ask the running scrub to stop and wait up to
 * @wait_ms for it to end (state "cancelled"). -ESRCH when none runs.
 * tfs_scrub_status(): "scrub_KEY: value" lines: state (idle, running,
 * done, cancelled, failed), started and finished (Unix seconds, 0: not
 * yet), bytes_scanned and bytes_total (file data: the sizes in the inode
 * records when the scrub started), files_scanned and files_total,
 * records (database keys verified), errors, corrected, io_errors, rate
 * (bytes per second); with @damage also one "scrub_damage:" line per
 * damaged range (the first 32).
 * tfs_scrub_stop(): stop a running scrub, wait for it, free the state:
 * call it before tfs_close() on a filesystem a scrub ever ran on (the
 * driver's close does).
 * The calls are thread-safe against each other, except tfs_scrub_stop(),
 * which must be the last.
 */
int tfs_scrub_start(struct tfs *fs, uint64_t rate, struct mixfs_err *err);
int tfs_scrub_cancel(struct tfs *fs, unsigned wait_ms, struct mixfs_err *err);
void tfs_scrub_status(struct tfs *fs, bool damage, struct fsd_buf *out);
void tfs_scrub_stop(struct tfs *fs);

extern const struct fsd_driver tablefs_driver;

#endif
