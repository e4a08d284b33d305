/*
 * rocksdb_internal.h - what rocksdb.c (open, options, reads) and
 * rocksdb_batch.c (every change, as one WriteBatch) share: the key layout,
 * the records and the store structure. The key layout is described at the
 * top of rocksdb.c.
 *
 * Not a public header: nothing outside these two files includes it.
 */
#ifndef MIXFS_OBJSTORE_ROCKSDB_INTERNAL_H
#define MIXFS_OBJSTORE_ROCKSDB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <xxhash.h>

#include "objstore/backend.h"
#include "objstore/objstore_rocksdb.h"

#define RDB_MAGIC	"MIXFS-OBJSTORE"
#define K_HEADER	'H'
#define K_COUNTERS	'C'
#define K_META		'M'
#define K_DATA		'D'
#define K_ATTR		'A'
#define HASH_LEN	8
#define KEY_MAX		(2 + 8 + OBJSTORE_ATTR_NAME_MAX + 1)

/* The store header, key "oH". The version sits at byte 16. */
struct rdb_header {
	char magic[16];			/* RDB_MAGIC, NUL padded */
	uint32_t version;		/* OBJSTORE_FORMAT_VERSION */
	uint32_t chunk;			/* bytes of data per chunk key */
	unsigned char uuid[16];
	uint64_t capacity;		/* 0: the host filesystem's */
};

struct rdb_counters {
	uint64_t next_id;		/* every id ever used is below it */
	uint64_t used;			/* sum of the objects' allocated */
	uint64_t objects;
};

struct rdb_meta {
	uint64_t size;
	uint64_t allocated;		/* sum of the chunks' len */
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t reserved;
};

struct rdb_store {
	struct objstore base;
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_writeoptions_t *wopts;
	rocksdb_readoptions_t *ropts;
	char *path;
	uint32_t chunk;			/* fixed at creation */
	uint64_t capacity;		/* 0: host filesystem */
	pthread_mutex_t wlock;		/* one writer at a time */
	pthread_rwlock_t vis;		/* readers shared, batch apply excl. */
	struct rdb_counters ctr;	/* written under wlock + vis excl. */
	/* Without a capacity: the host's free bytes, read at most every
	 * RDB_HOST_STATFS_MS (a statfs per write costs a system call). */
	_Atomic uint64_t host_avail;
	_Atomic uint64_t host_read_ms;	/* CLOCK_MONOTONIC, 0: never */
};

static inline struct rdb_store *rdb_of(struct objstore *s)
{
	return container_of(s, struct rdb_store, base);
}

/* --- keys and records ---------------------------------------------------- */

static inline void put_be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static inline uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline size_t key_meta(unsigned char *k, uint64_t id)
{
	k[0] = OBJSTORE_ROCKSDB_PREFIX;
	k[1] = K_META;
	put_be64(k + 2, id);
	return 10;
}

static inline size_t key_data(unsigned char *k, uint64_t id, uint64_t idx)
{
	k[0] = OBJSTORE_ROCKSDB_PREFIX;
	k[1] = K_DATA;
	put_be64(k + 2, id);
	put_be64(k + 10, idx);
	return 18;
}

/* Attribute key of @name, or with @name NULL the prefix of all of @id's. */
static inline size_t key_attr(unsigned char *k, uint64_t id, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	k[0] = OBJSTORE_ROCKSDB_PREFIX;
	k[1] = K_ATTR;
	put_be64(k + 2, id);
	memcpy(k + 10, name ? name : "", n);
	return 10 + n;
}

#define KEY_COUNTERS	"oC"	/* OBJSTORE_ROCKSDB_PREFIX, K_COUNTERS */

static inline uint64_t chunk_hash(const void *data, size_t len, uint64_t id,
			   uint64_t idx)
{
	return XXH3_64bits_withSeed(data, len,
				    id * 0x9E3779B97F4A7C15ull ^ idx);
}

/* Range end past every key of object @id with kind @kind. */
static inline void key_after_object(unsigned char *k, char kind, uint64_t id)
{
	k[0] = OBJSTORE_ROCKSDB_PREFIX;
	k[1] = kind;
	if (id == UINT64_MAX) {
		k[1]++;
		memset(k + 2, 0, 8);
	} else {
		put_be64(k + 2, id + 1);
	}
}

/* Step kind used internally for punch, which transactions do not offer. */
#define STEP_PUNCH ((enum objstore_step_kind)100)

/* rocksdb.c */

/* Record RocksDB's message @msg (freed) as an errno: Corruption -EUCLEAN,
 * out of space -ENOSPC, else -EIO. */
int objstore_rdb_error(struct mixfs_err *err, char *msg, const char *what);
/* Get @key into @out, exactly @len bytes: 1 found, 0 absent, <0 error. */
int objstore_rdb_get_fixed(struct rdb_store *r, const void *key, size_t klen,
			   void *out, size_t len, const char *what,
			   struct mixfs_err *err);
int objstore_rdb_meta_get(struct rdb_store *r, uint64_t id,
			  struct rdb_meta *m, struct mixfs_err *err);
/* Check a stored chunk value; its data length, or -EBADMSG. */
ssize_t objstore_rdb_chunk_check(struct rdb_store *r, uint64_t id,
				 uint64_t idx, const char *v, size_t vlen,
				 struct mixfs_err *err);
int objstore_rdb_no_object(uint64_t id, struct mixfs_err *err);
int objstore_rdb_nomem(struct mixfs_err *err);

/* rocksdb_batch.c */

/* Apply @n steps as one atomic change (@txn: name the failing step in
 * messages). _locked: the caller holds r->wlock. */
int objstore_rdb_apply_locked(struct rdb_store *r,
			      const struct objstore_step *steps, size_t n,
			      bool txn, struct mixfs_err *err);
int objstore_rdb_apply(struct rdb_store *r, const struct objstore_step *steps,
		       size_t n, bool txn, struct mixfs_err *err);

#endif
