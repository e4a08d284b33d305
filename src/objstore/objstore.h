/*
 * objstore.h - object storage in the OSD style: the manual.
 *
 * A store holds objects named by a 64-bit id. Each object is a sparse byte
 * array with a size, plus small named attributes (names up to 255 bytes,
 * values up to OBJSTORE_ATTR_MAX bytes). A store is opened from a URI:
 *
 *   mem:[?size=N]                  in memory, gone at close
 *   dir:PATH[?size=N][&cache=N]    host files per object; cache=N
 *                                  objects kept open (default 256)
 *   rocksdb:PATH[?size=N]          objects chunked into RocksDB keys
 *   faulty:SPEC:INNER-URI          wraps INNER-URI and injects faults
 *   cache:SPEC:REMOTE-URI          a bounded local store in front of
 *                                  REMOTE-URI; SPEC holds local=[URI] and
 *                                  max=SIZE (objstore_cache.h)
 *
 * SIZE accepts a plain byte count or a K/M/G/T suffix (powers of 1024).
 * The faulty SPEC grammar is documented in objstore_faulty.h.
 *
 * Rules every call follows:
 * - Returns 0 (or a non-negative count where said) or a negative errno.
 * - Fills the optional struct mixfs_err with a sentence for a person when it
 *   fails; @err may be NULL. The library never prints.
 * - A call that fails changes nothing, unless documented otherwise.
 * - A store is safe to use from several threads at once. Two threads writing
 *   the same bytes of the same object at once get one write or the other,
 *   not a mix, but no order between them is promised: callers that care
 *   serialise (the caller takes locks).
 *
 * Errors common to all calls: -ENOENT (no such object), -EEXIST (create of
 * an id in use), -EINVAL (bad argument, id 0), -EFBIG (offset + length past
 * OBJSTORE_MAX_SIZE), -ENOSPC (the store's capacity would be exceeded;
 * nothing changed), -EBADMSG (stored data fails its checksum), -EUCLEAN
 * (store metadata is corrupt), -EIO (the medium failed), -EROFS (opened
 * read-only).
 */
#ifndef MIXFS_OBJSTORE_H
#define MIXFS_OBJSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>		/* SEEK_DATA, SEEK_HOLE */

#include "util/err.h"

/* Largest object size: 2^60 bytes, far past any real file, below overflow. */
#define OBJSTORE_MAX_SIZE	(UINT64_C(1) << 60)
/* Largest attribute value and name. */
#define OBJSTORE_ATTR_MAX	65536
#define OBJSTORE_ATTR_NAME_MAX	255
/* Format version written by this code into every persistent store. */
#define OBJSTORE_FORMAT_VERSION	1

/* Capability flags: what a backend promises (struct objstore.caps). */
enum {
	/* objstore_txn_commit() applies all of a transaction or none of it,
	 * even across a crash. Without it, a commit applies the steps in order
	 * and a failure may leave the first steps applied. */
	OBJSTORE_CAP_ATOMIC_TXN   = 1u << 0,
	/* objstore_sync() makes every earlier completed call durable across
	 * power loss. */
	OBJSTORE_CAP_DURABLE_SYNC = 1u << 1,
	/* Objects survive objstore_close() and can be opened again. */
	OBJSTORE_CAP_PERSISTENT   = 1u << 2,
	/* Data is checksummed; corruption reads as -EBADMSG. */
	OBJSTORE_CAP_CHECKSUM     = 1u << 3,
	/* objstore_seek() finds the holes (at the backend's chunk size);
	 * without it every byte of an object counts as data. */
	OBJSTORE_CAP_SEEK_HOLES   = 1u << 4,
};

/* Flags for objstore_open(). */
enum {
	OBJSTORE_OPEN_CREATE   = 1u << 0,  /* create the store if missing */
	OBJSTORE_OPEN_EXCL     = 1u << 1,  /* with CREATE: fail -EEXIST if present */
	OBJSTORE_OPEN_READONLY = 1u << 2,  /* writes fail -EROFS */
};
/*
 * A read-only open changes nothing in the store. What it sees is the
 * backend's: rocksdb: takes no lock (it opens beside a writer), sees the
 * store as it was at the open, each transaction whole or not at all, and
 * fails -ENOENT on a missing store even with CREATE; dir: and rados:
 * take their lock as a writer does (-EBUSY beside another opener) and see
 * the store as it is at each call.
 */

struct objstore_stat {
	uint64_t size;		/* logical size in bytes */
	uint64_t allocated;	/* bytes of storage used by data (holes free) */
	struct timespec mtime;	/* last change of data or size */
};

struct objstore_statfs {
	uint64_t capacity;	/* bytes the store may hold */
	uint64_t used;		/* bytes of data held (sum of allocated) */
	uint64_t objects;	/* number of objects */
};

struct objstore_info {
	const char *backend;	/* "mem", "rocksdb", ... */
	unsigned char uuid[16];	/* chosen when the store was created */
	uint32_t format_version;
	unsigned caps;		/* OBJSTORE_CAP_* */
};

struct objstore;
struct objstore_txn;

/* --- Opening and closing ------------------------------------------------ */

/*
 * Open the store named by @uri. On success *@out is a store the caller
 * closes with objstore_close().
 *
 * Errors: -EINVAL (malformed URI or parameter), -ENOENT (store missing and
 * no OBJSTORE_OPEN_CREATE), -EEXIST (OBJSTORE_OPEN_EXCL and present),
 * -EBUSY (another process or handle holds the store open), -EPROTO (the
 * store has another format or a newer version), -EUCLEAN (corrupt),
 * -ENOTSUP (backend not built in), -EIO.
 */
int objstore_open(const char *uri, unsigned flags, struct objstore **out,
		  struct mixfs_err *err);

/* Flush and close. Errors of the final flush are returned, but the store
 * is closed and freed either way. @s may be NULL. */
int objstore_close(struct objstore *s);

/* Backend name, UUID, format version and capabilities. Never fails. */
void objstore_info(const struct objstore *s, struct objstore_info *info);

/* --- Objects ------------------------------------------------------------ */

/* Create an empty object with id @id (non-zero). -EEXIST if in use. */
int objstore_create(struct objstore *s, uint64_t id, struct mixfs_err *err);

/* Create an empty object with a fresh id, never used before in this store
 * (ids are not reused after removal); the id is returned in *@id. */
int objstore_create_fresh(struct objstore *s, uint64_t *id,
			  struct mixfs_err *err);

/* Remove an object with its data and attributes. */
int objstore_remove(struct objstore *s, uint64_t id, struct mixfs_err *err);

/*
 * Read up to @len bytes at @off into @buf. Holes read as zeros. Returns the
 * number of bytes read, which is short only at the end of the object (0 at
 * or past the end), or a negative errno.
 */
ssize_t objstore_read(struct objstore *s, uint64_t id, uint64_t off,
		      void *buf, size_t len, struct mixfs_err *err);

/*
 * Write @len bytes at @off, extending the object if needed (the gap becomes
 * a hole). Writes all or nothing: returns 0 or a negative errno.
 */
int objstore_write(struct objstore *s, uint64_t id, uint64_t off,
		   const void *buf, size_t len, struct mixfs_err *err);

/* Set the size: shrinking drops the data past @size, growing adds a hole. */
int objstore_truncate(struct objstore *s, uint64_t id, uint64_t size,
		      struct mixfs_err *err);

/*
 * Deallocate [@off, @off + @len): afterwards it reads as zeros and counts
 * as a hole. The size does not change. Backends without holes write zeros.
 */
int objstore_punch(struct objstore *s, uint64_t id, uint64_t off,
		   uint64_t len, struct mixfs_err *err);

int objstore_stat(struct objstore *s, uint64_t id, struct objstore_stat *st,
		  struct mixfs_err *err);

/*
 * Find data or a hole, as lseek(2)'s SEEK_DATA and SEEK_HOLE do in a file.
 * With @whence SEEK_DATA, *@out is the first offset >= @off that holds
 * data; with SEEK_HOLE, the first offset >= @off inside a hole, the end of
 * the object counting as one (so the answer is at most the size).
 * -ENXIO if @off is at or past the end, or for SEEK_DATA when only holes
 * follow @off; -EINVAL for another @whence.
 *
 * Holes are found at the backend's granularity: a chunk that holds any
 * data counts as data in full, so a hole may be reported as data, never
 * data as a hole; what a hole covers always reads as zeros. A backend
 * without OBJSTORE_CAP_SEEK_HOLES reports the whole object as data.
 */
int objstore_seek(struct objstore *s, uint64_t id, uint64_t off, int whence,
		  uint64_t *out, struct mixfs_err *err);

/*
 * List object ids in ascending order, starting after *@cursor (0 to start).
 * Fills at most @max ids into @ids, sets *@n, and advances *@cursor to the
 * last id returned. *@n == 0 means the end. Objects created or removed during
 * a listing may or may not be seen; every object that exists for the whole
 * listing is seen exactly once.
 */
int objstore_list(struct objstore *s, uint64_t *cursor, uint64_t *ids,
		  size_t max, size_t *n, struct mixfs_err *err);

/* --- Attributes --------------------------------------------------------- */

/*
 * Get attribute @name of object @id into @buf (@size bytes). Returns the
 * value's length. With @size 0 returns the length only. -ENODATA if the
 * attribute is absent, -ERANGE if @size is too small.
 */
ssize_t objstore_getattr(struct objstore *s, uint64_t id, const char *name,
			 void *buf, size_t size, struct mixfs_err *err);

/* Set (create or replace) attribute @name. -E2BIG past OBJSTORE_ATTR_MAX,
 * -ENAMETOOLONG past OBJSTORE_ATTR_NAME_MAX, -EINVAL for an empty name. */
int objstore_setattr(struct objstore *s, uint64_t id, const char *name,
		     const void *val, size_t len, struct mixfs_err *err);

/* Remove attribute @name. -ENODATA if absent. */
int objstore_rmattr(struct objstore *s, uint64_t id, const char *name,
		    struct mixfs_err *err);

/*
 * List attribute names as a sequence of NUL-terminated strings in byte
 * order, like listxattr(2). Returns the total length; with @size 0 only
 * the length. -ERANGE if @size is too small.
 */
ssize_t objstore_listattr(struct objstore *s, uint64_t id, char *buf,
			  size_t size, struct mixfs_err *err);

/* --- Whole store -------------------------------------------------------- */

int objstore_statfs(struct objstore *s, struct objstore_statfs *st,
		    struct mixfs_err *err);

/* Make every completed call durable (as far as OBJSTORE_CAP_DURABLE_SYNC
 * promises). */
int objstore_sync(struct objstore *s, struct mixfs_err *err);

/* --- Transactions ------------------------------------------------------- */

/*
 * A transaction collects steps and applies them with one commit. Steps are
 * applied in the order added; a later step sees the effects of earlier ones
 * (create then write works). With OBJSTORE_CAP_ATOMIC_TXN the commit is all
 * or nothing; otherwise see that flag.
 *
 * objstore_txn_new() returns NULL only when out of memory. Adding a step
 * copies @buf/@val, so the caller's buffers may be reused at once; adding
 * returns -ENOMEM or -EINVAL (bad argument) and the transaction stays
 * usable. objstore_txn_commit() consumes nothing: free the transaction with
 * objstore_txn_free() whether the commit succeeded or not.
 */
struct objstore_txn *objstore_txn_new(struct objstore *s);
int objstore_txn_create(struct objstore_txn *t, uint64_t id);
int objstore_txn_remove(struct objstore_txn *t, uint64_t id);
int objstore_txn_write(struct objstore_txn *t, uint64_t id, uint64_t off,
		       const void *buf, size_t len);
int objstore_txn_truncate(struct objstore_txn *t, uint64_t id, uint64_t size);
int objstore_txn_setattr(struct objstore_txn *t, uint64_t id, const char *name,
			 const void *val, size_t len);
int objstore_txn_rmattr(struct objstore_txn *t, uint64_t id, const char *name);
/* Number of steps added so far. */
size_t objstore_txn_steps(const struct objstore_txn *t);
int objstore_txn_commit(struct objstore_txn *t, struct mixfs_err *err);
void objstore_txn_free(struct objstore_txn *t);

/* --- Helpers ------------------------------------------------------------ */

/* Parse a size with an optional K/M/G/T suffix (1024-based). -EINVAL on
 * garbage or overflow. */
int objstore_parse_size(const char *text, uint64_t *out);

#endif
