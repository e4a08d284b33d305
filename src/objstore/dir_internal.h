/*
 * dir_internal.h - what dir.c (the store: header, ids, objects, attributes,
 * listing, sync), dir_cache.c (open objects kept between calls) and
 * dir_data.c (object data: segments, checksums, reads, writes, truncate,
 * punch) share: the on-disk constants, the store and object structures
 * with the rules of their locks, and a few small helpers. The layout itself is
 * described at the top of dir.c.
 *
 * Not a public header: nothing outside the dir: backend includes it.
 */
#ifndef MIXFS_OBJSTORE_DIR_INTERNAL_H
#define MIXFS_OBJSTORE_DIR_INTERNAL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "objstore/backend.h"

#define CHUNK		4096u
#define SEG_SHIFT	40
#define SEG_SIZE	(UINT64_C(1) << SEG_SHIFT)
#define BATCH_CHUNKS	64u	/* chunks read and verified per pread */
#define HEADER_NAME	"mixfs-store"
#define HEADER_MAGIC	"mixfs-objstore dir"
#define META_MAGIC	"MXOBJ001"
#define ATTR_MAGIC	"MXATTR01"
/*
 * The store's format version, in its header. 1: one 8-byte checksum per
 * chunk. 2: a pair per chunk, its current checksum and the one it had at
 * the last sync (dir.c says why). Version 1 stores are still read and
 * written, in their own layout, without the pair's protection.
 */
#define DIR_FORMAT_V1	1u
#define DIR_FORMAT	2u

/* The meta file of an object: 32 bytes, little-endian. */
struct meta_head {
	char magic[8];		/* META_MAGIC */
	uint64_t size;		/* logical size */
	uint64_t chunks;	/* chunks with a non-zero checksum */
	uint64_t reserved;	/* 0 */
};

/* One open segment of an object. */
struct seg {
	uint64_t no;		/* object offset >> SEG_SHIFT; SEG_NONE: unused */
	int dfd, sfd;		/* data and checksums; -1 when absent */
	uint64_t dsize;		/* bytes in the data file */
	uint64_t nsums;		/* chunks the .sum file covers */
};

/*
 * The checksums of one chunk, as a .sum file of a version 2 store keeps
 * them (16 bytes, little-endian, in one 4 KiB block, so that a power cut
 * leaves both old or both new). @cur covers the chunk's bytes now; @prev
 * its bytes at the last sync while the chunk has changed since, else
 * equal to @cur. 0 stands for a chunk of zeros. A version 1 store keeps
 * @cur alone; it reads back with @prev equal to it.
 */
struct csum {
	uint64_t cur, prev;
};

/*
 * The chunks of an object changed since the last completed sync, as
 * sorted, disjoint, non-touching ranges [r[i][0], r[i][1]) of chunk
 * numbers in the object (offset / CHUNK). Their @prev holds what the last
 * sync made durable, so a second change keeps it. Only version 2 stores
 * keep these. Owned by the open object; when the cache lets the object
 * go before the next sync, it waits in the store's parked table (under
 * dir_store.mu) for the object's next open.
 */
struct dchunks {
	uint64_t id;		/* the object's, while parked */
	struct dchunks *next;	/* parked hash chain */
	uint64_t (*r)[2];
	size_t n, cap;
};

#define DIR_CACHE_OBJECTS 256u	/* idle objects kept open, by default */
#define DIR_CACHE_MAX	(1u << 20)	/* most the cache= parameter takes */
#define SEG_NONE	UINT64_MAX
#define OBJ_SEGS	2	/* segments kept open per object */

/*
 * An open object. The cache in dir_cache.c keeps the most recently used
 * ones open between calls, so that a call on an object it has seen costs
 * no openat, fstat or close. A call holds a reference and the object's
 * lock for its whole length; see objstore_dir_get().
 */
struct obj {
	uint64_t id;
	int odfd, mfd;		/* its directory and meta file; fixed */
	bool ro;		/* the store is read-only; fixed */
	bool pairs;		/* format 2: checksum pairs; fixed */
	pthread_rwlock_t lock;	/* shared to look, exclusive to change */
	/* Under lock: shared to read, exclusive to change. */
	uint64_t size, chunks;	/* as in the meta file */
	bool excl;		/* the holder of lock holds it exclusive */
	struct dchunks *dc;	/* changed since the last sync, or NULL */
	/* Filled under seg_mu by holders of the shared lock (which never
	 * empty a slot); emptied or replaced only under the exclusive lock. */
	pthread_mutex_t seg_mu;
	struct seg segs[OBJ_SEGS];
	unsigned seg_clock;	/* under seg_mu: next slot to replace */
	/* Under dir_store.mu. */
	unsigned refs;		/* calls using it */
	bool stale;		/* out of the cache: freed at its last put */
	struct obj *hnext;	/* hash chain */
	struct obj *prev, *next;	/* LRU list, most recent first */
};

struct dir_store {
	struct objstore base;
	char *path;
	int dirfd, objfd, lockfd, idfd;	/* set at open, never change */
	uint64_t capacity;		/* 0: host free space + used */
	bool readonly;			/* opened OBJSTORE_OPEN_READONLY */
	bool pairs;			/* format 2 (checksum pairs) */
	/*
	 * Shared by calls on one object (each then takes that object's own
	 * lock); exclusive for create, remove and sync, which change the
	 * objects directory or need every object still.
	 */
	pthread_rwlock_t lock;
	/* Change under the exclusive lock. */
	uint64_t next_id;		/* every id ever used is below it */
	bool ids_exhausted;		/* UINT64_MAX was used */
	/* A leaf lock: nothing else is taken while it is held, and no
	 * system call is made under it but statfs's fstatvfs. */
	pthread_mutex_t mu;
	/* Under mu. */
	uint64_t used_chunks;
	uint64_t objects;
	uint64_t *dirty;		/* ids changed since the last sync */
	size_t ndirty, dirty_cap;
	bool dirty_dir;			/* objects/ or next-id changed */
	struct obj **buckets;		/* the cache: hash of open objects */
	size_t nbuckets;		/* a power of two */
	struct obj lru;			/* list head: lru.next is the newest */
	struct dchunks **parked;	/* hash of nbuckets chains */
	size_t ncached;			/* objects in the hash */
	size_t cache_max;		/* idle objects kept open, at most */
	uint64_t vfs_avail;		/* host bytes free, as last seen */
	struct timespec vfs_when;	/* when, CLOCK_MONOTONIC_COARSE */
	bool vfs_known;
};

static inline struct dir_store *to_dir(struct objstore *s)
{
	return container_of(s, struct dir_store, base);
}

/* --- small helpers ------------------------------------------------------ */

/* Record "object <id>: <message>" and return @code. */
__attribute__((format(printf, 4, 5)))
static inline int oerr(struct mixfs_err *err, int code, uint64_t id,
		const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mixfs_err_set(err, code, "object %016" PRIx64 ": %s", id, msg);
}

/* Read up to @len bytes at @off; returns the count (short only at EOF). */
static inline ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static inline int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}


static inline int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* A directory stream of its own for @name under @dirfd: a dup() of an
 * open directory would share its read position with other readers. */
static inline DIR *dir_stream(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d)
		close(fd);
	return d;
}

static inline void id_name(char buf[32], uint64_t id, const char *suffix)
{
	snprintf(buf, 32, "%016" PRIx64 "%s", id, suffix);
}

/* --- dir.c ---------------------------------------------------------------- */

/* Note that @id is about to change, for sync to fsync it. Called before
 * the change, so that failing (-ENOMEM) leaves the object untouched.
 * Takes ds->mu. */
int objstore_dir_dirty_mark(struct dir_store *ds, uint64_t id,
			    struct mixfs_err *err);

/* --- dir_cache.c: open objects ------------------------------------------- */

/* Set up an empty cache keeping at most @max idle objects open (0: none,
 * every call opens and closes its files). -ENOMEM. */
int objstore_dir_cache_init(struct dir_store *ds, size_t max);
/* Close every cached object and free the cache. No call may be running. */
void objstore_dir_cache_release(struct dir_store *ds);

/*
 * Find object @id in the cache or open it (its directory and meta file,
 * meta loaded), take its lock, shared or @excl, and return it in *@out
 * with a reference. The caller holds ds->lock (shared or exclusive) until
 * the matching objstore_dir_put(), so the object cannot be removed
 * meanwhile. -ENOENT (no such object), -EUCLEAN (meta missing or
 * corrupt), -ENOMEM, -EIO and other host errors; nothing is cached then.
 */
int objstore_dir_get(struct dir_store *ds, uint64_t id, bool excl,
		     struct obj **out, struct mixfs_err *err);
/*
 * Unlock @o and drop the reference. @failed after a change that failed
 * part way: the object is dropped from the cache, so the next call reads
 * its meta and files afresh instead of trusting what is in memory.
 */
void objstore_dir_put(struct dir_store *ds, struct obj *o, bool failed);
/* Close and forget object @id if it is cached. The caller holds ds->lock
 * exclusive (so nobody is using it): before a remove or a create. */
void objstore_dir_drop(struct dir_store *ds, uint64_t id);
/* Read the chunk count of object @id from its meta file without caching
 * it (for the scan at open); *@blank if the meta file is empty (see
 * meta_load() in dir_cache.c). */
int objstore_dir_peek_chunks(struct dir_store *ds, uint64_t id,
			     uint64_t *chunks, bool *blank);
/* Make object @id, whose meta file is empty, an empty object again: its
 * segment files go, its meta is written afresh. For the scan at a
 * read-write open, before any call can use the object. */
int objstore_dir_clear_blank(struct dir_store *ds, uint64_t id);
/* Write @o's size and chunk count to its meta file (exclusive lock). */
int objstore_dir_meta_save(const struct obj *o, struct mixfs_err *err);
/* Close segment @g's files and mark it unused. */
void objstore_dir_seg_close(struct seg *g);
/*
 * After a completed sync (the caller holds ds->lock exclusive): give
 * every changed chunk of every cached object @prev = @cur again, so that
 * a stale checksum no longer passes, and forget what changed. Best
 * effort: a chunk left with a stale @prev is settled by its next change
 * (see chunk_synced() in dir_data.c).
 */
void objstore_dir_settle_all(struct dir_store *ds);

/* --- dir_data.c: the data ops -------------------------------------------- */

ssize_t objstore_dir_read(struct objstore *s, uint64_t id, uint64_t off,
			  void *buf, size_t len, struct mixfs_err *err);
int objstore_dir_write(struct objstore *s, uint64_t id, uint64_t off,
		       const void *buf, size_t len, struct mixfs_err *err);
int objstore_dir_truncate(struct objstore *s, uint64_t id, uint64_t size,
			  struct mixfs_err *err);
int objstore_dir_punch(struct objstore *s, uint64_t id, uint64_t off,
		       uint64_t len, struct mixfs_err *err);
int objstore_dir_seek(struct objstore *s, uint64_t id, uint64_t off,
		      int whence, uint64_t *out, struct mixfs_err *err);
int objstore_dir_stat(struct objstore *s, uint64_t id,
		      struct objstore_stat *st, struct mixfs_err *err);
/* Give the changed chunks of @o (exclusive lock) @prev = @cur; see
 * objstore_dir_settle_all(). Does not forget them. */
void objstore_dir_settle(struct obj *o);

#endif
