/*
 * rados_internal.h - what rados.c (the store: connection, lock,
 * superblock, object lifecycle, attributes, listing) and rados_data.c (an
 * object's bytes: pieces, read, write, truncate, punch, and the cache of
 * object records) share. Not a public interface.
 *
 * Layout in the pool, inside the store's RADOS namespace:
 *
 *   mixfs.super          omap: uuid, format, piece size, capacity, id
 *                        high-water mark, counters, clean flag; carries the
 *                        exclusive lock "mixfs" while a client has it open
 *   o.<id:016x>          an object's head: piece 0 of its data, and in its
 *                        omap the record "m" (size, mtime), one key per
 *                        piece holding data ("p.<idx:016x>" -> a 64-bit map
 *                        of the piece's allocated granules) and the
 *                        attributes ("a.<name>" -> value)
 *   o.<id:016x>.<idx:x>  piece idx > 0 of the object's data
 *
 * A piece is `piece` bytes of the object (a power of two); a granule is
 * piece / 64 bytes, the unit in which space is counted: a write allocates
 * every granule it touches, a punch frees every granule it covers whole.
 */
#ifndef MIXFS_OBJSTORE_RADOS_INTERNAL_H
#define MIXFS_OBJSTORE_RADOS_INTERNAL_H

#include <pthread.h>
#include <rados/librados.h>

#include "objstore/backend.h"

#define RADOS_SUPER_OID		"mixfs.super"
#define RADOS_LOCK_NAME		"mixfs"
#define RADOS_OID_MAX		48
#define RADOS_STRIPES		64	/* object locks and cache buckets */
#define RADOS_CACHE_PER_STRIPE	64	/* object records kept per bucket */
#define RADOS_INFLIGHT		32	/* piece ops in flight per call */

/* One piece holding data, and which of its 64 granules are allocated. */
struct rs_piece {
	uint64_t idx;
	uint64_t bits;
};

/*
 * What the store knows of one object: its record and piece map, as in its
 * head's omap. Cached between calls: the exclusive lock makes this client
 * the only writer, so a record read once stays true until this client
 * changes it.
 */
struct rs_obj {
	uint64_t id;
	uint64_t size;
	struct timespec mtime;
	struct rs_piece *pieces;	/* sorted by idx */
	size_t npieces, cap;
	struct rs_obj *next;		/* in its stripe's cache, most recent first */
};

/*
 * Calls on one object are serialised by the rwlock of its stripe (id
 * modulo RADOS_STRIPES): reads share it, changes take it exclusively, so a
 * reader never sees half a write. The stripe's cache list is changed under
 * the exclusive lock, or under the shared lock plus @mu.
 */
struct rs_stripe {
	pthread_rwlock_t lock;
	pthread_mutex_t mu;
	struct rs_obj *cache;
	size_t ncache;
};

struct rs_store {
	struct objstore base;
	rados_t cluster;
	rados_ioctx_t io;
	char *pool, *ns;
	char cookie[128];		/* this open's lock cookie: host, pid, nonce */
	char broke[512];		/* whose lock a forced open broke, or "" */
	uint64_t piece;			/* bytes per piece, fixed at create */
	unsigned granule_shift;		/* log2(piece / 64) */
	unsigned piece_shift;		/* log2(piece) */

	pthread_mutex_t mu;		/* protects the fields below */
	uint64_t capacity;
	uint64_t used;			/* allocated granules, in bytes */
	uint64_t objects;
	uint64_t next_id;		/* next fresh id */
	uint64_t id_high;		/* ids below it may have been used */
	bool counts_doubtful;		/* a failed change may have half-applied */
	uint64_t *snap;			/* the current listing's ids, sorted */
	size_t nsnap;

	struct rs_stripe stripes[RADOS_STRIPES];
};

static inline struct rs_store *rs_of(struct objstore *s)
{
	return container_of(s, struct rs_store, base);
}

static inline struct rs_stripe *rs_stripe_of(struct rs_store *r,
						   uint64_t id)
{
	return &r->stripes[id % RADOS_STRIPES];
}

/* Object names. */
void rs_head_oid(char *buf, uint64_t id);
void rs_piece_oid(char *buf, uint64_t id, uint64_t idx);

/* Little-endian 64-bit values in omap. */
void rs_put64(unsigned char *p, uint64_t v);
uint64_t rs_get64(const unsigned char *p);

/* A librados error as a sentence about @what; returns @ret. */
int rs_fail(struct mixfs_err *err, int ret, const char *what, uint64_t id);

/* --- rados_data.c: records, the cache, and object data ------------------ */

/* Encoded record "m": size, mtime. */
#define RADOS_META_LEN 20
void rs_meta_encode(unsigned char *buf, const struct rs_obj *o);

/* The map of the granules [@from, @to) of one piece touches (@to > @from). */
uint64_t rs_touched_mask(const struct rs_store *r, uint64_t from,
			 uint64_t to);

/* Bytes allocated to @o (its granules). */
uint64_t rs_obj_allocated(const struct rs_store *r,
			  const struct rs_obj *o);

/*
 * The cached record of @id, loading it from the head when absent.
 * The caller holds the stripe lock: exclusively, or shared (then the cache
 * list is changed under the stripe's @mu). -ENOENT if there is no such
 * object. The record stays valid while the caller holds the stripe lock.
 */
int rs_obj_get(struct rs_store *r, uint64_t id, bool exclusive,
	       struct rs_obj **out, struct mixfs_err *err);
/* Add a fresh record (a just-created object); exclusive stripe lock held. */
int rs_obj_add(struct rs_store *r, struct rs_obj *o);
struct rs_obj *rs_obj_new(uint64_t id);
void rs_obj_free(struct rs_obj *o);
/* Forget @id's record (after removal, or when a failed change leaves the
 * record in doubt); exclusive stripe lock held. */
void rs_obj_forget(struct rs_store *r, uint64_t id);
void rs_cache_release(struct rs_store *r);

/* Account @delta bytes of newly allocated space: -ENOSPC past capacity. */
int rs_space_take(struct rs_store *r, uint64_t bytes,
		  struct mixfs_err *err);
void rs_space_give(struct rs_store *r, uint64_t bytes);
/* Note that the counters may be off after a failed change. */
void rs_counts_doubt(struct rs_store *r);

/* Remove every piece but the head of @o (used by remove). */
int rs_pieces_remove(struct rs_store *r, const struct rs_obj *o,
		     struct mixfs_err *err);

int rs_stat(struct objstore *s, uint64_t id, struct objstore_stat *st,
	    struct mixfs_err *err);
ssize_t rs_read(struct objstore *s, uint64_t id, uint64_t off, void *buf,
		size_t len, struct mixfs_err *err);
int rs_write(struct objstore *s, uint64_t id, uint64_t off,
	     const void *buf, size_t len, struct mixfs_err *err);
int rs_truncate(struct objstore *s, uint64_t id, uint64_t size,
		struct mixfs_err *err);
int rs_punch(struct objstore *s, uint64_t id, uint64_t off, uint64_t len,
	     struct mixfs_err *err);

/* The sum of every object's allocated bytes and the number of objects, by
 * walking the namespace (after an unclean close). */
int rs_recount(struct rs_store *r, uint64_t *used, uint64_t *objects,
	       uint64_t *max_id, struct mixfs_err *err);

#endif
