/*
 * rocksdb.c - the rocksdb: backend: objects chunked into RocksDB keys, the
 * embedded default store.
 *
 * Keys (all begin with OBJSTORE_ROCKSDB_PREFIX 'o'; other first bytes
 * belong to other users of the database, see objstore_rocksdb.h):
 *
 *   o H                  store header (struct rdb_header)
 *   o C                  counters: next fresh id, bytes used, objects
 *   o M <id:be64>        object record: size, bytes allocated, mtime
 *   o D <id:be64> <n:be64>   chunk n of the object's data: the bytes
 *                        [n * chunk, n * chunk + len) followed by their
 *                        XXH3-64 (seeded with id and n, so a chunk copied
 *                        to the wrong key fails too). len <= chunk; bytes
 *                        past len, and absent chunks, read as zeros.
 *   o A <id:be64> <name> attribute value
 *
 * Ids are big-endian so that RocksDB's byte order is id order: listing is
 * one iterator, and an object's chunks and attributes are contiguous.
 * Records are in host byte order (stores are read by the machine type that
 * wrote them, like RocksDB's own files).
 *
 * Every change, a single call or a transaction, goes through one batch
 * builder (struct bb): it keeps an overlay of the chunks, object records and
 * attributes changed so far, so that a later step sees earlier ones, checks
 * capacity as it goes, and ends as one rocksdb WriteBatch that also carries
 * the updated counters. So every change is atomic, and a failed one
 * (-ENOSPC included) has written nothing.
 *
 * Locking: `wlock` serialises the writers, since a change reads chunks and
 * counters, computes, and writes them back (a per-store mutex is the simple
 * start; per-object locks could come later if writers contend). Readers do
 * not take it. They take `vis` shared, and a writer holds it exclusively
 * only while its batch is applied, so a read that spans several keys never
 * sees half a batch.
 *
 * Chunk size: 64 KiB by default, chosen by measurement with
 * tools/bench_objstore.c (1 MiB and 4 KiB objects, put and get, on the
 * 2-core test machine), figures in the comment above rdb_default_chunk.
 *
 * It deliberately does not cache anything itself (RocksDB's block cache
 * does), nor keep more than one database per store.
 */
#include "objstore/backend.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <uuid/uuid.h>
#include <xxhash.h>

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
};

static struct rdb_store *rdb_of(struct objstore *s)
{
	return container_of(s, struct rdb_store, base);
}

/* --- keys and records ---------------------------------------------------- */

static void put_be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static size_t key_meta(unsigned char *k, uint64_t id)
{
	k[0] = OBJSTORE_ROCKSDB_PREFIX;
	k[1] = K_META;
	put_be64(k + 2, id);
	return 10;
}

static size_t key_data(unsigned char *k, uint64_t id, uint64_t idx)
{
	k[0] = OBJSTORE_ROCKSDB_PREFIX;
	k[1] = K_DATA;
	put_be64(k + 2, id);
	put_be64(k + 10, idx);
	return 18;
}

/* Attribute key of @name, or with @name NULL the prefix of all of @id's. */
static size_t key_attr(unsigned char *k, uint64_t id, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	k[0] = OBJSTORE_ROCKSDB_PREFIX;
	k[1] = K_ATTR;
	put_be64(k + 2, id);
	memcpy(k + 10, name ? name : "", n);
	return 10 + n;
}

static const unsigned char key_header[2] = { OBJSTORE_ROCKSDB_PREFIX, K_HEADER };
static const unsigned char key_counters[2] = { OBJSTORE_ROCKSDB_PREFIX,
					       K_COUNTERS };

static uint64_t chunk_hash(const void *data, size_t len, uint64_t id,
			   uint64_t idx)
{
	return XXH3_64bits_withSeed(data, len,
				    id * 0x9E3779B97F4A7C15ull ^ idx);
}

static int rdb_error(struct mixfs_err *err, char *msg, const char *what)
{
	int code = -EIO;

	if (strstr(msg, "Corruption"))
		code = -EUCLEAN;
	else if (strstr(msg, "No space left"))
		code = -ENOSPC;
	mixfs_err_set(err, code, "rocksdb %s: %s", what, msg);
	rocksdb_free(msg);
	return code;
}

/* --- options ------------------------------------------------------------- */

/*
 * Every RocksDB option the backend sets, with why. Anything not named here
 * is RocksDB's default.
 */
static rocksdb_options_t *rdb_options(void)
{
	rocksdb_options_t *o = rocksdb_options_create();
	rocksdb_block_based_table_options_t *t;
	rocksdb_cache_t *cache;

	if (!o)
		return NULL;
	/* Object data is mostly file contents, often already compressed;
	 * compressing costs CPU on every write and makes "used" a guess.
	 * A store that wants compression can get it from the filesystem. */
	rocksdb_options_set_compression(o, rocksdb_no_compression);
	/* The test and default machine has 2 cores: one flush and one
	 * compaction may run while the foreground writes. */
	rocksdb_options_set_max_background_jobs(o, 2);
	/* 64 MiB memtables (RocksDB's default, written down so that the
	 * benchmark's raw side is surely the same): a 1 MiB object is 16
	 * chunk keys, so a memtable holds 64 such objects before a flush. */
	rocksdb_options_set_write_buffer_size(o, 64u << 20);
	/* Write SST and WAL data out every 1 MiB instead of in one burst
	 * at the end of a file: smoother latency under a steady write load. */
	rocksdb_options_set_bytes_per_sync(o, 1u << 20);
	rocksdb_options_set_wal_bytes_per_sync(o, 1u << 20);
	/* Level sizes follow the data instead of fixed targets: less space
	 * amplification for a store that grows from nothing. */
	rocksdb_options_set_level_compaction_dynamic_level_bytes(o, 1);
	/* RocksDB's own LOG files: keep a few, warnings and worse only. The
	 * library prints nothing; this file is RocksDB's diary, not ours. */
	rocksdb_options_set_info_log_level(o, 2 /* WARN */);
	rocksdb_options_set_keep_log_file_num(o, 3);

	t = rocksdb_block_based_options_create();
	/* A bloom filter per SST: reads of holes (absent chunks) and of
	 * missing objects stop at the filter instead of reading blocks. */
	rocksdb_block_based_options_set_filter_policy(t,
		rocksdb_filterpolicy_create_bloom(10));
	/* 64 MiB block cache: recently read chunks are served from memory
	 * (RocksDB's default is 32 MiB; chunks are big). */
	cache = rocksdb_cache_create_lru(64u << 20);
	rocksdb_block_based_options_set_block_cache(t, cache);
	/* Index and filter blocks in the cache, so memory stays bounded as
	 * the store grows. */
	rocksdb_block_based_options_set_cache_index_and_filter_blocks(t, 1);
	rocksdb_options_set_block_based_table_factory(o, t);
	rocksdb_cache_destroy(cache);
	rocksdb_block_based_options_destroy(t);
	return o;
}

rocksdb_options_t *objstore_rocksdb_options(void)
{
	return rdb_options();
}

rocksdb_t *objstore_rocksdb_handle(struct objstore *s)
{
	if (!s || s->ops != &objstore_rocksdb_ops)
		return NULL;
	return rdb_of(s)->db;
}

/* --- reading records ----------------------------------------------------- */

/* Get @key into @out (exactly @len bytes). 1 found, 0 absent, <0 error. */
static int get_fixed(struct rdb_store *r, const void *key, size_t klen,
		     void *out, size_t len, const char *what,
		     struct mixfs_err *err)
{
	rocksdb_pinnableslice_t *v;
	const char *p;
	char *e = NULL;
	size_t vlen;

	v = rocksdb_get_pinned(r->db, r->ropts, key, klen, &e);
	if (e)
		return rdb_error(err, e, "read");
	if (!v)
		return 0;
	p = rocksdb_pinnableslice_value(v, &vlen);
	if (vlen != len) {
		rocksdb_pinnableslice_destroy(v);
		return mixfs_err_set(err, -EUCLEAN,
			"%s record of %zu bytes (expected %zu): store corrupt",
			what, vlen, len);
	}
	memcpy(out, p, len);
	rocksdb_pinnableslice_destroy(v);
	return 1;
}

static int meta_get(struct rdb_store *r, uint64_t id, struct rdb_meta *m,
		    struct mixfs_err *err)
{
	unsigned char k[10];

	key_meta(k, id);
	return get_fixed(r, k, sizeof(k), m, sizeof(*m), "object", err);
}

static int no_object(uint64_t id, struct mixfs_err *err)
{
	return mixfs_err_set(err, -ENOENT, "no object %llu",
			     (unsigned long long)id);
}

/*
 * Check a chunk value read from the store and return its data length.
 * -EBADMSG when the checksum does not match.
 */
static ssize_t chunk_check(struct rdb_store *r, uint64_t id, uint64_t idx,
			   const char *v, size_t vlen, struct mixfs_err *err)
{
	uint64_t want;

	if (vlen < HASH_LEN || vlen - HASH_LEN > r->chunk)
		return mixfs_err_set(err, -EBADMSG,
			"object %llu: chunk at offset %llu has %zu bytes: "
			"store corrupt", (unsigned long long)id,
			(unsigned long long)(idx * r->chunk), vlen);
	memcpy(&want, v + vlen - HASH_LEN, HASH_LEN);
	if (chunk_hash(v, vlen - HASH_LEN, id, idx) != want)
		return mixfs_err_set(err, -EBADMSG,
			"object %llu: checksum mismatch in the data at offset "
			"%llu (%zu bytes)", (unsigned long long)id,
			(unsigned long long)(idx * r->chunk), vlen - HASH_LEN);
	return (ssize_t)(vlen - HASH_LEN);
}

/*
 * Copy bytes [@from, @to) of chunk @idx into @dst (zeros where the chunk
 * holds nothing).
 */
static int chunk_read(struct rdb_store *r, uint64_t id, uint64_t idx,
		      size_t from, size_t to, unsigned char *dst,
		      struct mixfs_err *err)
{
	rocksdb_pinnableslice_t *v;
	unsigned char k[18];
	const char *p;
	char *e = NULL;
	size_t vlen, n = 0;
	ssize_t len;

	key_data(k, id, idx);
	v = rocksdb_get_pinned(r->db, r->ropts, (const char *)k, sizeof(k), &e);
	if (e)
		return rdb_error(err, e, "read");
	if (v) {
		p = rocksdb_pinnableslice_value(v, &vlen);
		len = chunk_check(r, id, idx, p, vlen, err);
		if (len < 0) {
			rocksdb_pinnableslice_destroy(v);
			return (int)len;
		}
		if ((size_t)len > from) {
			n = ((size_t)len < to ? (size_t)len : to) - from;
			memcpy(dst, p + from, n);
		}
		rocksdb_pinnableslice_destroy(v);
	}
	memset(dst + n, 0, to - from - n);
	return 0;
}

/* --- the batch builder --------------------------------------------------- */

/* An object as the change sees it so far. */
struct pobj {
	uint64_t id;
	bool existed;		/* in the database before the change */
	bool exists;		/* after the steps so far */
	bool attrs_cleared;	/* every stored attribute is gone */
	uint64_t size0;		/* stored size (no stored chunk lies past it) */
	uint64_t db_limit;	/* stored chunks >= this index are gone */
	struct rdb_meta m;	/* current record */
};

/* A changed chunk: @len bytes of @buf (room for chunk + HASH_LEN). */
struct pchunk {
	uint64_t id, idx;
	unsigned char *buf;	/* NULL for a removed chunk */
	size_t len;		/* 0: removed */
};

struct pattr {
	uint64_t id;
	char *name;
	void *val;		/* NULL: removed */
	size_t len;
};

struct bb {
	struct rdb_store *r;
	struct pobj *objs;	/* one per step at most: never reallocated */
	size_t nobjs;
	struct pchunk *chunks;
	size_t nchunks, chunk_cap;
	struct pattr *attrs;
	size_t nattrs, attr_cap;
	struct rdb_counters ctr;
};

static int bb_init(struct bb *b, struct rdb_store *r, size_t steps)
{
	memset(b, 0, sizeof(*b));
	b->r = r;
	b->objs = calloc(steps, sizeof(*b->objs));
	b->ctr = r->ctr;
	return b->objs ? 0 : -ENOMEM;
}

static void bb_release(struct bb *b)
{
	size_t i;

	for (i = 0; i < b->nchunks; i++)
		free(b->chunks[i].buf);
	for (i = 0; i < b->nattrs; i++) {
		free(b->attrs[i].name);
		free(b->attrs[i].val);
	}
	free(b->chunks);
	free(b->attrs);
	free(b->objs);
}

static int nomem(struct mixfs_err *err)
{
	return mixfs_err_set(err, -ENOMEM, "out of memory");
}

/* The object @id as seen by the change, loaded on first use. */
static int bb_obj(struct bb *b, uint64_t id, struct pobj **out,
		  struct mixfs_err *err)
{
	struct pobj *o;
	size_t i;
	int ret;

	for (i = 0; i < b->nobjs; i++) {
		if (b->objs[i].id == id) {
			*out = &b->objs[i];
			return 0;
		}
	}
	o = &b->objs[b->nobjs];
	memset(o, 0, sizeof(*o));
	o->id = id;
	o->db_limit = UINT64_MAX;
	ret = meta_get(b->r, id, &o->m, err);
	if (ret < 0)
		return ret;
	o->existed = o->exists = ret == 1;
	o->size0 = o->m.size;
	b->nobjs++;
	*out = o;
	return 0;
}

static void touch(struct pobj *o)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	o->m.mtime_sec = ts.tv_sec;
	o->m.mtime_nsec = (uint32_t)ts.tv_nsec;
}

static struct pchunk *pchunk_find(struct bb *b, uint64_t id, uint64_t idx)
{
	size_t i;

	for (i = b->nchunks; i-- > 0;)
		if (b->chunks[i].idx == idx && b->chunks[i].id == id)
			return &b->chunks[i];
	return NULL;
}

static struct pchunk *pchunk_add(struct bb *b, uint64_t id, uint64_t idx)
{
	struct pchunk *c;

	if (b->nchunks == b->chunk_cap) {
		size_t cap = b->chunk_cap ? b->chunk_cap * 2 : 16;

		c = realloc(b->chunks, cap * sizeof(*c));
		if (!c)
			return NULL;
		b->chunks = c;
		b->chunk_cap = cap;
	}
	c = &b->chunks[b->nchunks++];
	c->id = id;
	c->idx = idx;
	c->buf = NULL;
	c->len = 0;
	return c;
}

/* Is chunk @idx of @o possibly in the database, as seen by the change? */
static bool stored_chunk_live(struct bb *b, const struct pobj *o, uint64_t idx)
{
	return o->existed && idx < o->db_limit &&
	       idx < (o->size0 + b->r->chunk - 1) / b->r->chunk;
}

/* Chunk @idx of @o with a buffer to change, loaded on first use. */
static int bb_chunk(struct bb *b, struct pobj *o, uint64_t idx,
		    struct pchunk **out, struct mixfs_err *err)
{
	struct rdb_store *r = b->r;
	struct pchunk *c = pchunk_find(b, o->id, idx);
	rocksdb_pinnableslice_t *v = NULL;
	unsigned char k[18];
	char *e = NULL;

	if (c && c->buf) {
		*out = c;
		return 0;
	}
	if (!c && stored_chunk_live(b, o, idx)) {
		key_data(k, o->id, idx);
		v = rocksdb_get_pinned(r->db, r->ropts, (const char *)k,
				       sizeof(k), &e);
		if (e)
			return rdb_error(err, e, "read");
	}
	if (!c && !(c = pchunk_add(b, o->id, idx)))
		goto out_nomem;
	c->buf = malloc(r->chunk + HASH_LEN);
	if (!c->buf)
		goto out_nomem;
	c->len = 0;
	if (v) {
		size_t vlen;
		const char *p = rocksdb_pinnableslice_value(v, &vlen);
		ssize_t len = chunk_check(r, o->id, idx, p, vlen, err);

		if (len >= 0)
			memcpy(c->buf, p, (size_t)len);
		rocksdb_pinnableslice_destroy(v);
		if (len < 0)
			return (int)len;
		c->len = (size_t)len;
	}
	*out = c;
	return 0;
out_nomem:
	rocksdb_pinnableslice_destroy(v);
	return nomem(err);
}

static void chunk_drop(struct pobj *o, struct pchunk *c)
{
	o->m.allocated -= c->len;
	c->len = 0;
}

static int check_capacity(struct bb *b, uint64_t grow, struct mixfs_err *err)
{
	uint64_t cap = b->r->capacity;

	if (cap && (grow > cap || b->ctr.used > cap - grow))
		return mixfs_err_set(err, -ENOSPC,
			"store full: %llu of %llu bytes used, %llu more needed",
			(unsigned long long)b->ctr.used,
			(unsigned long long)cap, (unsigned long long)grow);
	return 0;
}

static int step_write(struct bb *b, struct pobj *o, uint64_t off,
		      const unsigned char *buf, size_t len,
		      struct mixfs_err *err)
{
	const uint64_t csz = b->r->chunk;
	uint64_t idx, first = off / csz, last, before = o->m.allocated;
	int ret;

	if (len == 0) {
		touch(o);
		return 0;
	}
	last = (off + len - 1) / csz;
	for (idx = first; idx <= last; idx++) {
		uint64_t cstart = idx * csz;
		size_t from = off > cstart ? (size_t)(off - cstart) : 0;
		size_t to = off + len - cstart < csz ?
			(size_t)(off + len - cstart) : (size_t)csz;
		struct pchunk *c;

		ret = bb_chunk(b, o, idx, &c, err);
		if (ret)
			return ret;
		if (from > c->len)
			memset(c->buf + c->len, 0, from - c->len);
		memcpy(c->buf + from, buf + (cstart + from - off), to - from);
		if (to > c->len) {
			o->m.allocated += to - c->len;
			c->len = to;
		}
	}
	ret = check_capacity(b, o->m.allocated - before, err);
	if (ret)
		return ret;
	b->ctr.used += o->m.allocated - before;
	if (off + len > o->m.size)
		o->m.size = off + len;
	touch(o);
	return 0;
}

/*
 * Drop whole chunks [@first, @last] of @o: those changed in the overlay and
 * those stored. Stored ones past db_limit are gone already.
 */
static int drop_chunks(struct bb *b, struct pobj *o, uint64_t first,
		       uint64_t last, struct mixfs_err *err)
{
	struct rdb_store *r = b->r;
	unsigned char lo[18], hi[18];
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t *it;
	char *e = NULL;
	size_t i;
	int ret = 0;

	for (i = 0; i < b->nchunks; i++) {
		struct pchunk *c = &b->chunks[i];

		if (c->id == o->id && c->idx >= first && c->idx <= last)
			chunk_drop(o, c);
	}
	if (!o->existed || first >= o->db_limit)
		return 0;
	if (last >= o->db_limit)
		last = o->db_limit - 1;
	key_data(lo, o->id, first);
	if (last == UINT64_MAX)
		key_data(hi, o->id + 1, 0);	/* ids never reach UINT64_MAX+1 */
	else
		key_data(hi, o->id, last + 1);
	if (o->id == UINT64_MAX && last == UINT64_MAX)
		memset(hi + 2, 0xff, 16);
	ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)hi,
						    sizeof(hi));
	it = rocksdb_create_iterator(r->db, ro);
	for (rocksdb_iter_seek(it, (const char *)lo, sizeof(lo));
	     rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const unsigned char *k = (const unsigned char *)
			rocksdb_iter_key(it, &klen);
		uint64_t idx;
		struct pchunk *c;

		if (klen != 18)
			continue;
		idx = get_be64(k + 10);
		if (pchunk_find(b, o->id, idx))
			continue;	/* counted through the overlay */
		rocksdb_iter_value(it, &vlen);
		c = pchunk_add(b, o->id, idx);
		if (!c) {
			ret = nomem(err);
			break;
		}
		c->len = vlen >= HASH_LEN ? vlen - HASH_LEN : 0;
		chunk_drop(o, c);
	}
	rocksdb_iter_get_error(it, &e);
	if (e && !ret)
		ret = rdb_error(err, e, "iteration");
	else
		rocksdb_free(e);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return ret;
}

static int step_truncate(struct bb *b, struct pobj *o, uint64_t size,
			 struct mixfs_err *err)
{
	const uint64_t csz = b->r->chunk;
	uint64_t idx = size / csz, before = o->m.allocated;
	size_t tail = (size_t)(size % csz);
	struct pchunk *c;
	int ret;

	if (size < o->m.size) {
		uint64_t first_dead = tail ? idx + 1 : idx;

		ret = drop_chunks(b, o, first_dead, UINT64_MAX, err);
		if (ret)
			return ret;
		if (first_dead < o->db_limit)
			o->db_limit = first_dead;
		if (tail) {
			ret = bb_chunk(b, o, idx, &c, err);
			if (ret)
				return ret;
			if (c->len > tail) {
				o->m.allocated -= c->len - tail;
				c->len = tail;
			}
		}
		b->ctr.used -= before - o->m.allocated;
	}
	o->m.size = size;
	touch(o);
	return 0;
}

/* Zero [@from, @to) of chunk @idx, storing only up to the last non-hole. */
static int zero_in_chunk(struct bb *b, struct pobj *o, uint64_t idx,
			 size_t from, size_t to, struct mixfs_err *err)
{
	struct pchunk *c;
	int ret = bb_chunk(b, o, idx, &c, err);

	if (ret)
		return ret;
	if (c->len <= from)
		return 0;
	if (to >= c->len) {
		o->m.allocated -= c->len - from;
		c->len = from;
	} else {
		memset(c->buf + from, 0, to - from);
	}
	return 0;
}

static int step_punch(struct bb *b, struct pobj *o, uint64_t off,
		      uint64_t len, struct mixfs_err *err)
{
	const uint64_t csz = b->r->chunk;
	uint64_t end = len > o->m.size - off ? o->m.size : off + len;
	uint64_t first, last, before = o->m.allocated;
	int ret = 0;

	if (off >= o->m.size || off >= end)
		return 0;
	first = off / csz;
	last = (end - 1) / csz;
	if (off % csz) {
		uint64_t cend = end - first * csz < csz ? end - first * csz : csz;

		ret = zero_in_chunk(b, o, first, (size_t)(off % csz),
				    (size_t)cend, err);
		first++;
	}
	if (!ret && end % csz && last >= first) {
		ret = zero_in_chunk(b, o, last, 0, (size_t)(end % csz), err);
		if (last == 0)
			first = 1;	/* nothing whole left */
		else
			last--;
	}
	if (!ret && first <= last)
		ret = drop_chunks(b, o, first, last, err);
	if (ret)
		return ret;
	b->ctr.used -= before - o->m.allocated;
	touch(o);
	return 0;
}

static struct pattr *pattr_find(struct bb *b, uint64_t id, const char *name)
{
	size_t i;

	for (i = 0; i < b->nattrs; i++)
		if (b->attrs[i].id == id && !strcmp(b->attrs[i].name, name))
			return &b->attrs[i];
	return NULL;
}

static struct pattr *pattr_get(struct bb *b, uint64_t id, const char *name)
{
	struct pattr *a = pattr_find(b, id, name);

	if (a)
		return a;
	if (b->nattrs == b->attr_cap) {
		size_t cap = b->attr_cap ? b->attr_cap * 2 : 8;

		a = realloc(b->attrs, cap * sizeof(*a));
		if (!a)
			return NULL;
		b->attrs = a;
		b->attr_cap = cap;
	}
	a = &b->attrs[b->nattrs];
	a->id = id;
	a->val = NULL;
	a->len = 0;
	a->name = strdup(name);
	if (!a->name)
		return NULL;
	b->nattrs++;
	return a;
}

static int step_setattr(struct bb *b, struct pobj *o, const char *name,
			const void *val, size_t len, struct mixfs_err *err)
{
	struct pattr *a = pattr_get(b, o->id, name);
	void *copy = malloc(len ? len : 1);

	if (!a || !copy) {
		free(copy);
		return nomem(err);
	}
	memcpy(copy, val, len);
	free(a->val);
	a->val = copy;
	a->len = len;
	return 0;
}

static int step_rmattr(struct bb *b, struct pobj *o, const char *name,
		       struct mixfs_err *err)
{
	struct pattr *a = pattr_find(b, o->id, name);
	unsigned char k[KEY_MAX];
	bool present;

	if (a) {
		present = a->val != NULL;
	} else if (!o->existed || o->attrs_cleared) {
		present = false;
	} else {
		rocksdb_pinnableslice_t *v;
		char *e = NULL;

		v = rocksdb_get_pinned(b->r->db, b->r->ropts, (const char *)k,
				       key_attr(k, o->id, name), &e);
		if (e)
			return rdb_error(err, e, "read");
		present = v != NULL;
		rocksdb_pinnableslice_destroy(v);
	}
	if (!present)
		return mixfs_err_set(err, -ENODATA,
			"object %llu has no attribute '%s'",
			(unsigned long long)o->id, name);
	a = pattr_get(b, o->id, name);
	if (!a)
		return nomem(err);
	free(a->val);
	a->val = NULL;
	a->len = 0;
	return 0;
}

static int step_create(struct bb *b, struct pobj *o, struct mixfs_err *err)
{
	if (o->exists)
		return mixfs_err_set(err, -EEXIST, "object %llu exists",
				     (unsigned long long)o->id);
	o->exists = true;
	memset(&o->m, 0, sizeof(o->m));
	touch(o);
	b->ctr.objects++;
	if (o->id >= b->ctr.next_id)
		b->ctr.next_id = o->id == UINT64_MAX ? UINT64_MAX : o->id + 1;
	return 0;
}

static void step_remove(struct bb *b, struct pobj *o)
{
	size_t i;

	for (i = 0; i < b->nchunks; i++)
		if (b->chunks[i].id == o->id)
			b->chunks[i].len = 0;
	for (i = 0; i < b->nattrs; i++) {
		if (b->attrs[i].id == o->id) {
			free(b->attrs[i].val);
			b->attrs[i].val = NULL;
		}
	}
	b->ctr.used -= o->m.allocated;
	b->ctr.objects--;
	o->exists = false;
	o->db_limit = 0;
	o->attrs_cleared = o->existed;
	memset(&o->m, 0, sizeof(o->m));
}

/* Step kind used internally for punch, which transactions do not offer. */
#define STEP_PUNCH ((enum objstore_step_kind)100)

static int bb_step(struct bb *b, const struct objstore_step *st,
		   struct mixfs_err *err)
{
	struct pobj *o;
	int ret = bb_obj(b, st->id, &o, err);

	if (ret)
		return ret;
	if (st->kind == OBJSTORE_STEP_CREATE)
		return step_create(b, o, err);
	if (!o->exists)
		return no_object(st->id, err);
	switch ((int)st->kind) {
	case OBJSTORE_STEP_REMOVE:
		step_remove(b, o);
		return 0;
	case OBJSTORE_STEP_WRITE:
		return step_write(b, o, st->off, st->buf, st->len, err);
	case OBJSTORE_STEP_TRUNCATE:
		return step_truncate(b, o, st->off, err);
	case STEP_PUNCH:
		return step_punch(b, o, st->off, st->len, err);
	case OBJSTORE_STEP_SETATTR:
		return step_setattr(b, o, st->name, st->buf, st->len, err);
	case OBJSTORE_STEP_RMATTR:
		return step_rmattr(b, o, st->name, err);
	}
	return mixfs_err_set(err, -EINVAL, "unknown step kind %d",
			     (int)st->kind);
}

/* Delete every stored key in [@lo, @hi) into @wb. */
static int delete_stored(struct rdb_store *r, rocksdb_writebatch_t *wb,
			 const unsigned char *lo, size_t lolen,
			 const unsigned char *hi, size_t hilen,
			 struct mixfs_err *err)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	char *e = NULL;

	rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)hi, hilen);
	it = rocksdb_create_iterator(r->db, ro);
	for (rocksdb_iter_seek(it, (const char *)lo, lolen);
	     rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen;
		const char *k = rocksdb_iter_key(it, &klen);

		rocksdb_writebatch_delete(wb, k, klen);
	}
	rocksdb_iter_get_error(it, &e);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return e ? rdb_error(err, e, "iteration") : 0;
}

/* Range end past every key of object @id with kind @kind. */
static void key_after_object(unsigned char *k, char kind, uint64_t id)
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

/* Turn the overlay into one batch and apply it. */
static int bb_commit(struct bb *b, struct mixfs_err *err)
{
	struct rdb_store *r = b->r;
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	unsigned char k[KEY_MAX], hi[18];
	char *e = NULL;
	size_t i;
	int ret = 0;

	for (i = 0; i < b->nobjs && !ret; i++) {
		struct pobj *o = &b->objs[i];

		if (o->existed && o->db_limit != UINT64_MAX) {
			key_after_object(hi, K_DATA, o->id);
			ret = delete_stored(r, wb, k, key_data(k, o->id,
					    o->db_limit), hi, 10, err);
		}
		if (!ret && o->attrs_cleared) {
			key_after_object(hi, K_ATTR, o->id);
			ret = delete_stored(r, wb, k, key_attr(k, o->id, NULL),
					    hi, 10, err);
		}
		key_meta(k, o->id);
		if (o->exists)
			rocksdb_writebatch_put(wb, (const char *)k, 10,
					       (const char *)&o->m, sizeof(o->m));
		else if (o->existed)
			rocksdb_writebatch_delete(wb, (const char *)k, 10);
	}
	for (i = 0; i < b->nchunks && !ret; i++) {
		struct pchunk *c = &b->chunks[i];

		key_data(k, c->id, c->idx);
		if (c->len == 0) {
			rocksdb_writebatch_delete(wb, (const char *)k, 18);
		} else {
			uint64_t h = chunk_hash(c->buf, c->len, c->id, c->idx);

			memcpy(c->buf + c->len, &h, HASH_LEN);
			rocksdb_writebatch_put(wb, (const char *)k, 18,
					       (const char *)c->buf,
					       c->len + HASH_LEN);
		}
	}
	for (i = 0; i < b->nattrs && !ret; i++) {
		struct pattr *a = &b->attrs[i];
		size_t klen = key_attr(k, a->id, a->name);

		if (a->val)
			rocksdb_writebatch_put(wb, (const char *)k, klen,
					       a->val, a->len);
		else
			rocksdb_writebatch_delete(wb, (const char *)k, klen);
	}
	rocksdb_writebatch_put(wb, (const char *)key_counters,
			       sizeof(key_counters), (const char *)&b->ctr,
			       sizeof(b->ctr));
	if (!ret) {
		pthread_rwlock_wrlock(&r->vis);
		rocksdb_write(r->db, r->wopts, wb, &e);
		if (!e)
			r->ctr = b->ctr;
		pthread_rwlock_unlock(&r->vis);
		if (e)
			ret = rdb_error(err, e, "write");
	}
	rocksdb_writebatch_destroy(wb);
	return ret;
}

/* Apply @n steps as one atomic change; the caller holds wlock. */
static int rdb_apply_locked(struct rdb_store *r,
			    const struct objstore_step *steps, size_t n,
			    bool txn, struct mixfs_err *err)
{
	struct bb b;
	size_t i;
	int ret;

	ret = bb_init(&b, r, n);
	if (ret)
		ret = nomem(err);
	for (i = 0; i < n && !ret; i++) {
		ret = bb_step(&b, &steps[i], err);
		if (ret && txn)
			mixfs_err_prefix(err, ret, "transaction step %zu", i + 1);
	}
	if (!ret)
		ret = bb_commit(&b, err);
	bb_release(&b);
	return ret;
}

static int rdb_apply(struct rdb_store *r, const struct objstore_step *steps,
		     size_t n, bool txn, struct mixfs_err *err)
{
	int ret;

	pthread_mutex_lock(&r->wlock);
	ret = rdb_apply_locked(r, steps, n, txn, err);
	pthread_mutex_unlock(&r->wlock);
	return ret;
}

static int rdb_apply1(struct objstore *s, enum objstore_step_kind kind,
		      uint64_t id, uint64_t off, const char *name,
		      const void *buf, size_t len, struct mixfs_err *err)
{
	struct objstore_step st = {
		.kind = kind, .id = id, .off = off, .name = (char *)name,
		.buf = (void *)buf, .len = len,
	};

	return rdb_apply(rdb_of(s), &st, 1, false, err);
}


/* --- ops that change objects --------------------------------------------- */

static int rdb_create(struct objstore *s, uint64_t id, struct mixfs_err *err)
{
	return rdb_apply1(s, OBJSTORE_STEP_CREATE, id, 0, NULL, NULL, 0, err);
}

static int rdb_create_fresh(struct objstore *s, uint64_t *id,
			    struct mixfs_err *err)
{
	struct rdb_store *r = rdb_of(s);
	struct objstore_step st = { .kind = OBJSTORE_STEP_CREATE };
	int ret;

	pthread_mutex_lock(&r->wlock);
	st.id = r->ctr.next_id;
	if (st.id == UINT64_MAX)
		ret = mixfs_err_set(err, -ENOSPC, "no unused object ids left");
	else
		ret = rdb_apply_locked(r, &st, 1, false, err);
	pthread_mutex_unlock(&r->wlock);
	if (!ret)
		*id = st.id;
	return ret;
}

static int rdb_remove(struct objstore *s, uint64_t id, struct mixfs_err *err)
{
	return rdb_apply1(s, OBJSTORE_STEP_REMOVE, id, 0, NULL, NULL, 0, err);
}

static int rdb_write(struct objstore *s, uint64_t id, uint64_t off,
		     const void *buf, size_t len, struct mixfs_err *err)
{
	return rdb_apply1(s, OBJSTORE_STEP_WRITE, id, off, NULL, buf, len, err);
}

static int rdb_truncate(struct objstore *s, uint64_t id, uint64_t size,
			struct mixfs_err *err)
{
	return rdb_apply1(s, OBJSTORE_STEP_TRUNCATE, id, size, NULL, NULL, 0,
			  err);
}

static int rdb_punch(struct objstore *s, uint64_t id, uint64_t off,
		     uint64_t len, struct mixfs_err *err)
{
	return rdb_apply1(s, STEP_PUNCH, id, off, NULL, NULL, (size_t)len, err);
}

static int rdb_setattr(struct objstore *s, uint64_t id, const char *name,
		       const void *val, size_t len, struct mixfs_err *err)
{
	return rdb_apply1(s, OBJSTORE_STEP_SETATTR, id, 0, name, val, len, err);
}

static int rdb_rmattr(struct objstore *s, uint64_t id, const char *name,
		      struct mixfs_err *err)
{
	return rdb_apply1(s, OBJSTORE_STEP_RMATTR, id, 0, name, NULL, 0, err);
}

static int rdb_txn_commit(struct objstore *s, const struct objstore_txn *t,
			  struct mixfs_err *err)
{
	return rdb_apply(rdb_of(s), t->steps, t->nsteps, true, err);
}

/* --- ops that only look -------------------------------------------------- */

static ssize_t rdb_read(struct objstore *s, uint64_t id, uint64_t off,
			void *buf, size_t len, struct mixfs_err *err)
{
	struct rdb_store *r = rdb_of(s);
	const uint64_t csz = r->chunk;
	unsigned char *dst = buf;
	struct rdb_meta m;
	size_t done = 0;
	int ret;

	pthread_rwlock_rdlock(&r->vis);
	ret = meta_get(r, id, &m, err);
	if (ret == 0)
		ret = no_object(id, err);
	if (ret < 0)
		goto out_unlock;
	if (off >= m.size) {
		len = 0;
		goto out_unlock;
	}
	if (len > m.size - off)
		len = (size_t)(m.size - off);
	while (done < len) {
		uint64_t pos = off + done, idx = pos / csz;
		size_t from = (size_t)(pos % csz);
		size_t n = csz - from < len - done ? csz - from : len - done;

		ret = chunk_read(r, id, idx, from, from + n, dst + done, err);
		if (ret)
			goto out_unlock;
		done += n;
	}
	ret = 0;
out_unlock:
	pthread_rwlock_unlock(&r->vis);
	return ret < 0 ? ret : (ssize_t)len;
}

static int rdb_stat(struct objstore *s, uint64_t id, struct objstore_stat *st,
		    struct mixfs_err *err)
{
	struct rdb_meta m;
	int ret = meta_get(rdb_of(s), id, &m, err);

	if (ret == 0)
		return no_object(id, err);
	if (ret < 0)
		return ret;
	st->size = m.size;
	st->allocated = m.allocated;
	st->mtime.tv_sec = m.mtime_sec;
	st->mtime.tv_nsec = m.mtime_nsec;
	return 0;
}

/*
 * Iterate keys in [@lo, @hi), calling @fn with each key and value; @fn
 * returns 0 to go on, 1 to stop, <0 to fail.
 */
static int scan(struct rdb_store *r, const unsigned char *lo, size_t lolen,
		const unsigned char *hi, size_t hilen,
		int (*fn)(void *, const unsigned char *, size_t, size_t),
		void *arg, struct mixfs_err *err)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	char *e = NULL;
	int ret = 0;

	rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)hi, hilen);
	it = rocksdb_create_iterator(r->db, ro);
	for (rocksdb_iter_seek(it, (const char *)lo, lolen);
	     rocksdb_iter_valid(it) && !ret; rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);

		rocksdb_iter_value(it, &vlen);
		ret = fn(arg, (const unsigned char *)k, klen, vlen);
	}
	rocksdb_iter_get_error(it, &e);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	if (e)
		return rdb_error(err, e, "iteration");
	return ret < 0 ? ret : 0;
}

struct list_arg {
	uint64_t *ids;
	size_t max, n;
};

static int list_one(void *arg, const unsigned char *k, size_t klen,
		    size_t vlen)
{
	struct list_arg *a = arg;

	(void)vlen;
	if (klen != 10)
		return -EUCLEAN;
	a->ids[a->n++] = get_be64(k + 2);
	return a->n == a->max;
}

static int rdb_list(struct objstore *s, uint64_t *cursor, uint64_t *ids,
		    size_t max, size_t *n, struct mixfs_err *err)
{
	struct list_arg a = { ids, max, 0 };
	unsigned char lo[10], hi[2] = { OBJSTORE_ROCKSDB_PREFIX, K_META + 1 };
	int ret;

	*n = 0;
	if (*cursor == UINT64_MAX)
		return 0;
	key_meta(lo, *cursor + 1);
	ret = scan(rdb_of(s), lo, sizeof(lo), hi, sizeof(hi), list_one, &a, err);
	if (ret == -EUCLEAN)
		return mixfs_err_set(err, ret, "malformed object key: store "
				     "corrupt");
	if (ret)
		return ret;
	*n = a.n;
	if (a.n)
		*cursor = ids[a.n - 1];
	return 0;
}

static ssize_t rdb_getattr(struct objstore *s, uint64_t id, const char *name,
			   void *buf, size_t size, struct mixfs_err *err)
{
	struct rdb_store *r = rdb_of(s);
	rocksdb_pinnableslice_t *v = NULL;
	unsigned char k[KEY_MAX];
	struct rdb_meta m;
	const char *p;
	char *e = NULL;
	size_t vlen;
	ssize_t ret;

	pthread_rwlock_rdlock(&r->vis);
	ret = meta_get(r, id, &m, err);
	if (ret == 0)
		ret = no_object(id, err);
	if (ret < 0)
		goto out_unlock;
	v = rocksdb_get_pinned(r->db, r->ropts, (const char *)k,
			       key_attr(k, id, name), &e);
	if (e) {
		ret = rdb_error(err, e, "read");
		goto out_unlock;
	}
	if (!v) {
		ret = mixfs_err_set(err, -ENODATA,
			"object %llu has no attribute '%s'",
			(unsigned long long)id, name);
		goto out_unlock;
	}
	p = rocksdb_pinnableslice_value(v, &vlen);
	if (size && size < vlen) {
		ret = mixfs_err_set(err, -ERANGE,
			"attribute '%s' holds %zu bytes, buffer has %zu",
			name, vlen, size);
		goto out_unlock;
	}
	if (size)
		memcpy(buf, p, vlen);
	ret = (ssize_t)vlen;
out_unlock:
	rocksdb_pinnableslice_destroy(v);
	pthread_rwlock_unlock(&r->vis);
	return ret;
}

struct listattr_arg {
	char *buf;
	size_t size, total;
};

static int listattr_one(void *arg, const unsigned char *k, size_t klen,
			size_t vlen)
{
	struct listattr_arg *a = arg;
	size_t n = klen - 10;

	(void)vlen;
	if (a->size && a->total + n + 1 <= a->size) {
		memcpy(a->buf + a->total, k + 10, n);
		a->buf[a->total + n] = '\0';
	}
	a->total += n + 1;
	return 0;
}

static ssize_t rdb_listattr(struct objstore *s, uint64_t id, char *buf,
			    size_t size, struct mixfs_err *err)
{
	struct rdb_store *r = rdb_of(s);
	struct listattr_arg a = { buf, size, 0 };
	unsigned char lo[10], hi[10];
	struct rdb_meta m;
	int ret;

	pthread_rwlock_rdlock(&r->vis);
	ret = meta_get(r, id, &m, err);
	if (ret == 0)
		ret = no_object(id, err);
	if (ret > 0) {
		key_attr(lo, id, NULL);
		key_after_object(hi, K_ATTR, id);
		ret = scan(r, lo, sizeof(lo), hi, sizeof(hi), listattr_one, &a,
			   err);
	}
	pthread_rwlock_unlock(&r->vis);
	if (ret < 0)
		return ret;
	if (size && a.total > size)
		return mixfs_err_set(err, -ERANGE,
			"attribute names need %zu bytes, buffer has %zu",
			a.total, size);
	return (ssize_t)a.total;
}

static int rdb_statfs(struct objstore *s, struct objstore_statfs *st,
		      struct mixfs_err *err)
{
	struct rdb_store *r = rdb_of(s);
	struct statvfs vfs;

	pthread_rwlock_rdlock(&r->vis);
	st->used = r->ctr.used;
	st->objects = r->ctr.objects;
	pthread_rwlock_unlock(&r->vis);
	st->capacity = r->capacity;
	if (st->capacity)
		return 0;
	if (statvfs(r->path, &vfs))
		return mixfs_err_set(err, -errno, "statfs of %s failed: %s",
				     r->path, strerror(errno));
	st->capacity = (uint64_t)vfs.f_bavail * vfs.f_frsize + st->used;
	return 0;
}

static int rdb_sync(struct objstore *s, struct mixfs_err *err)
{
	char *e = NULL;

	rocksdb_flush_wal(rdb_of(s)->db, 1, &e);
	return e ? rdb_error(err, e, "sync") : 0;
}

/* --- opening and closing -------------------------------------------------- */

/* 1: @dir holds a RocksDB database, 0: empty or missing, -EUCLEAN: other
 * files, -ENOTDIR. */
static int probe_dir(const char *dir, struct mixfs_err *err)
{
	struct dirent *d;
	struct stat st;
	char *current;
	int found = 0;
	DIR *dp;

	if (stat(dir, &st))
		return 0;
	if (!S_ISDIR(st.st_mode))
		return mixfs_err_set(err, -ENOTDIR,
			"%s is not a directory, so not a mixfs store", dir);
	if (asprintf(&current, "%s/CURRENT", dir) < 0)
		return nomem(err);
	found = stat(current, &st) == 0;
	free(current);
	if (found)
		return 1;
	dp = opendir(dir);
	if (!dp)
		return mixfs_err_set(err, -errno, "cannot read %s: %s", dir,
				     strerror(errno));
	while ((d = readdir(dp)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			found = 1;
	closedir(dp);
	if (found)
		return mixfs_err_set(err, -EUCLEAN,
			"%s holds files but no RocksDB database: not a mixfs "
			"store", dir);
	return 0;
}

static int open_error(char *msg, const char *path, bool had_db,
		      struct mixfs_err *err)
{
	int code;

	if (strstr(msg, "/LOCK: ") || strstr(msg, "lock hold"))
		code = mixfs_err_set(err, -EBUSY,
			"store %s is in use by another process or handle", path);
	else if (!had_db && strstr(msg, "No such file"))
		code = mixfs_err_set(err, -ENOENT, "cannot create store %s: %s",
				     path, msg);
	else if (had_db)
		code = mixfs_err_set(err, -EUCLEAN,
			"%s is not a readable RocksDB database (%s): damaged, "
			"or not a mixfs store", path, msg);
	else
		code = mixfs_err_set(err, -EIO, "cannot open store %s: %s",
				     path, msg);
	rocksdb_free(msg);
	return code;
}

/* Is there any key at all (a database someone else filled)? */
static int db_has_keys(struct rdb_store *r)
{
	rocksdb_iterator_t *it = rocksdb_create_iterator(r->db, r->ropts);
	int any;

	rocksdb_iter_seek_to_first(it);
	any = rocksdb_iter_valid(it);
	rocksdb_iter_destroy(it);
	return any;
}

static int put_record(struct rdb_store *r, const unsigned char *k,
		      size_t klen, const void *v, size_t vlen,
		      struct mixfs_err *err)
{
	char *e = NULL;

	rocksdb_put(r->db, r->wopts, (const char *)k, klen, v, vlen, &e);
	return e ? rdb_error(err, e, "write") : 0;
}

/* Read, or with @create write, the header and counters. */
static int load_header(struct rdb_store *r, bool create, bool have_size,
		       uint64_t size, uint32_t chunk, struct mixfs_err *err)
{
	struct rdb_header h;
	int ret = get_fixed(r, key_header, sizeof(key_header), &h, sizeof(h),
			    "store header", err);

	if (ret == -EUCLEAN)
		return mixfs_err_set(err, -EPROTO,
			"%s: the store header has an unknown layout (another "
			"format, or a newer version of mixfs)", r->path);
	if (ret < 0)
		return ret;
	if (ret == 0) {
		if (db_has_keys(r))
			return mixfs_err_set(err, -EUCLEAN,
				"%s is a RocksDB database without a mixfs store "
				"header: not a mixfs store", r->path);
		if (!create)
			return mixfs_err_set(err, -ENOENT, "no store at %s",
					     r->path);
		memset(&h, 0, sizeof(h));
		memcpy(h.magic, RDB_MAGIC, sizeof(RDB_MAGIC));
		h.version = OBJSTORE_FORMAT_VERSION;
		h.chunk = chunk;
		uuid_generate(h.uuid);
		h.capacity = have_size ? size : 0;
		r->ctr.next_id = 1;
		ret = put_record(r, key_counters, sizeof(key_counters), &r->ctr,
				 sizeof(r->ctr), err);
		if (!ret)
			ret = put_record(r, key_header, sizeof(key_header), &h,
					 sizeof(h), err);
		if (ret)
			return ret;
	} else {
		if (memcmp(h.magic, RDB_MAGIC, sizeof(RDB_MAGIC)))
			return mixfs_err_set(err, -EPROTO,
				"%s: the store header is not a mixfs object "
				"store's (another format)", r->path);
		if (h.version != OBJSTORE_FORMAT_VERSION)
			return mixfs_err_set(err, -EPROTO,
				"%s: store format version %u, this mixfs reads "
				"version %u%s", r->path, h.version,
				OBJSTORE_FORMAT_VERSION,
				h.version > OBJSTORE_FORMAT_VERSION ?
				" (written by a newer mixfs)" : "");
		if (h.chunk < 4096 || h.chunk > (1u << 20) ||
		    (h.chunk & (h.chunk - 1)))
			return mixfs_err_set(err, -EUCLEAN,
				"%s: store header names a chunk size of %u: "
				"corrupt", r->path, h.chunk);
		ret = get_fixed(r, key_counters, sizeof(key_counters), &r->ctr,
				sizeof(r->ctr), "store counters", err);
		if (ret == 0)
			ret = mixfs_err_set(err, -EUCLEAN,
				"%s: store counters missing: corrupt", r->path);
		if (ret < 0)
			return ret;
		if (have_size && h.capacity != size && create) {
			h.capacity = size;
			ret = put_record(r, key_header, sizeof(key_header), &h,
					 sizeof(h), err);
			if (ret)
				return ret;
		}
	}
	r->chunk = h.chunk;
	r->capacity = have_size ? size : h.capacity;
	memcpy(r->base.uuid, h.uuid, sizeof(h.uuid));
	return 0;
}

static void rdb_free(struct rdb_store *r)
{
	if (r->db)
		rocksdb_close(r->db);
	if (r->opts)
		rocksdb_options_destroy(r->opts);
	if (r->wopts)
		rocksdb_writeoptions_destroy(r->wopts);
	if (r->ropts)
		rocksdb_readoptions_destroy(r->ropts);
	pthread_mutex_destroy(&r->wlock);
	pthread_rwlock_destroy(&r->vis);
	free(r->path);
	free(r);
}

static int parse_params(const char *query, bool *have_size, uint64_t *size,
			uint32_t *chunk, struct mixfs_err *err)
{
	static const char *const known[] = { "size", "chunk", NULL };
	char val[64];
	uint64_t v;
	int ret = objstore_uri_check_keys(query, known, err);

	if (ret)
		return ret;
	ret = objstore_uri_param(query, "size", val, sizeof(val));
	if (ret < 0 || (ret == 1 && objstore_parse_size(val, size)))
		return mixfs_err_set(err, -EINVAL, "rocksdb: bad size= value");
	*have_size = ret == 1;
	*chunk = OBJSTORE_ROCKSDB_CHUNK;
	ret = objstore_uri_param(query, "chunk", val, sizeof(val));
	if (ret == 1 && !objstore_parse_size(val, &v) && v >= 4096 &&
	    v <= (1u << 20) && !(v & (v - 1)))
		*chunk = (uint32_t)v;
	else if (ret)
		return mixfs_err_set(err, -EINVAL, "rocksdb: chunk= wants a "
				     "power of two from 4K to 1M");
	return 0;
}

static int rdb_open(const char *rest, unsigned flags, struct objstore **out,
		    struct mixfs_err *err)
{
	pthread_rwlockattr_t ra;
	struct rdb_store *r;
	const char *query;
	bool have_size = false, create = flags & OBJSTORE_OPEN_CREATE;
	uint64_t size = 0;
	uint32_t chunk;
	char *e = NULL;
	int had_db, ret;

	r = calloc(1, sizeof(*r));
	if (!r)
		return nomem(err);
	pthread_mutex_init(&r->wlock, NULL);
	/* Writers first: a steady stream of readers must not starve them. */
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra,
		PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&r->vis, &ra);
	pthread_rwlockattr_destroy(&ra);
	if (objstore_uri_split(rest, &r->path, &query)) {
		ret = nomem(err);
		goto out_free;
	}
	ret = parse_params(query, &have_size, &size, &chunk, err);
	if (ret)
		goto out_free;
	if (!r->path[0]) {
		ret = mixfs_err_set(err, -EINVAL, "rocksdb: needs a path "
				    "(rocksdb:PATH)");
		goto out_free;
	}
	had_db = probe_dir(r->path, err);
	if (had_db < 0) {
		ret = had_db;
		goto out_free;
	}
	if (!had_db && !create) {
		ret = mixfs_err_set(err, -ENOENT, "no store at %s", r->path);
		goto out_free;
	}
	if (had_db && create && (flags & OBJSTORE_OPEN_EXCL)) {
		ret = mixfs_err_set(err, -EEXIST, "a store exists at %s",
				    r->path);
		goto out_free;
	}
	r->opts = rdb_options();
	r->wopts = rocksdb_writeoptions_create();
	r->ropts = rocksdb_readoptions_create();
	if (!r->opts || !r->wopts || !r->ropts) {
		ret = nomem(err);
		goto out_free;
	}
	rocksdb_options_set_create_if_missing(r->opts, !had_db);
	r->db = rocksdb_open(r->opts, r->path, &e);
	if (e) {
		r->db = NULL;
		ret = open_error(e, r->path, had_db, err);
		goto out_free;
	}
	ret = load_header(r, create && !(flags & OBJSTORE_OPEN_READONLY),
			  have_size, size, chunk, err);
	if (ret)
		goto out_free;
	r->base.ops = &objstore_rocksdb_ops;
	r->base.caps = OBJSTORE_CAP_ATOMIC_TXN | OBJSTORE_CAP_DURABLE_SYNC |
		       OBJSTORE_CAP_PERSISTENT | OBJSTORE_CAP_CHECKSUM;
	r->base.format_version = OBJSTORE_FORMAT_VERSION;
	*out = &r->base;
	return 0;
out_free:
	rdb_free(r);
	return ret;
}

static int rdb_close(struct objstore *s)
{
	struct rdb_store *r = rdb_of(s);
	char *e = NULL;
	int ret = 0;

	/* Close is the last chance to make what was written durable. */
	rocksdb_flush_wal(r->db, 1, &e);
	if (e)
		ret = rdb_error(NULL, e, "sync");
	rdb_free(r);
	return ret;
}

const struct objstore_ops objstore_rocksdb_ops = {
	.version = 1,
	.scheme = "rocksdb",
	.open = rdb_open,
	.close = rdb_close,
	.create = rdb_create,
	.create_fresh = rdb_create_fresh,
	.remove = rdb_remove,
	.read = rdb_read,
	.write = rdb_write,
	.truncate = rdb_truncate,
	.punch = rdb_punch,
	.stat = rdb_stat,
	.list = rdb_list,
	.getattr = rdb_getattr,
	.setattr = rdb_setattr,
	.rmattr = rdb_rmattr,
	.listattr = rdb_listattr,
	.statfs = rdb_statfs,
	.sync = rdb_sync,
	.txn_commit = rdb_txn_commit,
};
