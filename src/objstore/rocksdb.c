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
 * builder (struct bb, in rocksdb_batch.c): it keeps an overlay of the
 * chunks, object records and attributes changed so far, so that a later
 * step sees earlier ones, checks capacity as it goes, and ends as one
 * rocksdb WriteBatch that also carries the updated counters. So every change is atomic, and a failed one
 * (-ENOSPC included) has written nothing.
 *
 * Locking: `wlock` serialises the writers, since a change reads chunks and
 * counters, computes, and writes them back (a per-store mutex is the simple
 * start; per-object locks could come later if writers contend). Readers do
 * not take it. They take `vis` shared, and a writer holds it exclusively
 * only while its batch is applied, so a read that spans several keys never
 * sees half a batch.
 *
 * Chunk size: 64 KiB by default (OBJSTORE_ROCKSDB_CHUNK), by measurement
 * with tools/bench_objstore.c on the 2-core test machine (a shared, noisy
 * VM: figures vary up to 2x between runs). Reading a whole 1 MiB object
 * ran at this fraction of raw RocksDB's one-key get: 16 KiB chunks 0.09-0.13,
 * 64 KiB 0.17-0.28, 256 KiB 0.26-0.36, 1 MiB 0.7-0.97; RocksDB pays per
 * block read, so fewer, larger values read faster. Puts were within noise
 * of each other for every size. Larger chunks cost in the other direction:
 * a 4 KiB write into a large object rewrites a whole chunk (plus its
 * checksum), 64x the data at 256 KiB. 64 KiB keeps small in-place writes
 * cheap (16x) and is the usual choice of chunked stores; a store that holds
 * mostly large, read-whole objects can be created with ?chunk=256K or 1M.
 *
 * Exclusive use: a writable open takes RocksDB's LOCK file, so a second
 * writer, in this process or another, fails -EBUSY. An
 * OBJSTORE_OPEN_READONLY open (fsck beside a mounted file system, a
 * read-only mount) takes no lock and writes no file: it opens the database
 * read-only, which reads the tables and replays the write-ahead log as
 * they were at the open, and sees nothing written after it. Every change
 * is one WriteBatch, one record in the log, and a record cut short (the
 * writer in the middle of it) is dropped whole, so a read-only opener sees
 * each change whole or not at all, never half of one.
 *
 * It deliberately does not cache anything itself (RocksDB's block cache
 * does), nor keep more than one database per store.
 */
/*
 * Before rocksdb_internal.h, so that its chunk_hash() calls the XXH3 that
 * libxxhash picks for this CPU (AVX2 or AVX-512 where present): the same
 * hash values as the portable XXH3_64bits_withSeed(), 3.4x faster on the
 * test machine (20 us against 68 us per MiB), and every byte stored or
 * read is hashed.
 */
#if defined(__x86_64__) || defined(__i386__)
#include <xxh_x86dispatch.h>
#endif
#include "objstore/rocksdb_internal.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <uuid/uuid.h>

static const unsigned char key_header[2] = { OBJSTORE_ROCKSDB_PREFIX, K_HEADER };

int objstore_rdb_error(struct mixfs_err *err, char *msg, const char *what)
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

int objstore_rdb_nomem(struct mixfs_err *err)
{
	return mixfs_err_set(err, -ENOMEM, "out of memory");
}

/* --- reading records ----------------------------------------------------- */

/* Get @key into @out (exactly @len bytes). 1 found, 0 absent, <0 error. */
int objstore_rdb_get_fixed(struct rdb_store *r, const void *key, size_t klen,
			   void *out, size_t len, const char *what,
			   struct mixfs_err *err)
{
	rocksdb_pinnableslice_t *v;
	const char *p;
	char *e = NULL;
	size_t vlen;

	v = rocksdb_get_pinned(r->db, r->ropts, key, klen, &e);
	if (e)
		return objstore_rdb_error(err, e, "read");
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

int objstore_rdb_meta_get(struct rdb_store *r, uint64_t id,
			  struct rdb_meta *m, struct mixfs_err *err)
{
	unsigned char k[10];

	key_meta(k, id);
	return objstore_rdb_get_fixed(r, k, sizeof(k), m, sizeof(*m), "object", err);
}

int objstore_rdb_no_object(uint64_t id, struct mixfs_err *err)
{
	return mixfs_err_set(err, -ENOENT, "no object %llu",
			     (unsigned long long)id);
}

/*
 * Check a chunk value read from the store and return its data length.
 * -EBADMSG when the checksum does not match.
 */
ssize_t objstore_rdb_chunk_check(struct rdb_store *r, uint64_t id,
				 uint64_t idx, const char *v, size_t vlen,
				 struct mixfs_err *err)
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
		return objstore_rdb_error(err, e, "read");
	if (v) {
		p = rocksdb_pinnableslice_value(v, &vlen);
		len = objstore_rdb_chunk_check(r, id, idx, p, vlen, err);
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

static int rdb_apply1(struct objstore *s, enum objstore_step_kind kind,
		      uint64_t id, uint64_t off, const char *name,
		      const void *buf, size_t len, struct mixfs_err *err)
{
	struct objstore_step st = {
		.kind = kind, .id = id, .off = off, .name = (char *)name,
		.buf = (void *)buf, .len = len,
	};

	return objstore_rdb_apply(rdb_of(s), &st, 1, false, err);
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
		ret = objstore_rdb_apply_locked(r, &st, 1, false, err);
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
	return objstore_rdb_apply(rdb_of(s), t->steps, t->nsteps, true, err);
}

/* --- ops that only look -------------------------------------------------- */

/*
 * Read [@off, @off + @len) (inside the object) spanning several chunks with
 * one iterator: far cheaper than a point lookup per chunk, which would
 * search every level's index and filter again for each (measured: a 1 MiB
 * read in 64 KiB chunks went from ~6x raw RocksDB's cost to ~1.3x).
 */
static int read_span(struct rdb_store *r, uint64_t id, uint64_t off,
		     unsigned char *dst, size_t len, struct mixfs_err *err)
{
	const uint64_t csz = r->chunk;
	uint64_t first = off / csz, last = (off + len - 1) / csz;
	unsigned char lo[18], hi[18];
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	size_t done = 0;
	char *e = NULL;
	int ret = 0;

	key_data(lo, id, first);
	key_data(hi, id, last + 1);
	rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)hi, 18);
	it = rocksdb_create_iterator(r->db, ro);
	rocksdb_iter_seek(it, (const char *)lo, sizeof(lo));
	for (; rocksdb_iter_valid(it) && !ret; rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const unsigned char *k = (const unsigned char *)
			rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);
		uint64_t idx = get_be64(k + 10), cstart = idx * csz;
		size_t from, to, have;
		ssize_t clen;

		clen = objstore_rdb_chunk_check(r, id, idx, v, vlen, err);
		if (clen < 0) {
			ret = (int)clen;
			break;
		}
		/* A hole before this chunk reads as zeros. */
		if (cstart > off + done) {
			memset(dst + done, 0, (size_t)(cstart - off - done));
			done = (size_t)(cstart - off);
		}
		from = (size_t)(off + done - cstart);
		to = off + len - cstart < csz ? (size_t)(off + len - cstart) :
			(size_t)csz;
		have = (size_t)clen > from ?
			((size_t)clen < to ? (size_t)clen : to) - from : 0;
		memcpy(dst + done, v + from, have);
		memset(dst + done + have, 0, to - from - have);
		done += to - from;
	}
	rocksdb_iter_get_error(it, &e);
	if (e && !ret)
		ret = objstore_rdb_error(err, e, "read");
	else
		rocksdb_free(e);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	if (!ret)
		memset(dst + done, 0, len - done);
	return ret;
}

static ssize_t rdb_read(struct objstore *s, uint64_t id, uint64_t off,
			void *buf, size_t len, struct mixfs_err *err)
{
	struct rdb_store *r = rdb_of(s);
	const uint64_t csz = r->chunk;
	struct rdb_meta m;
	int ret;

	pthread_rwlock_rdlock(&r->vis);
	ret = objstore_rdb_meta_get(r, id, &m, err);
	if (ret == 0)
		ret = objstore_rdb_no_object(id, err);
	if (ret < 0)
		goto out_unlock;
	if (off >= m.size) {
		len = 0;
		goto out_unlock;
	}
	if (len > m.size - off)
		len = (size_t)(m.size - off);
	if (off / csz == (off + len - 1) / csz)
		ret = chunk_read(r, id, off / csz, (size_t)(off % csz),
				 (size_t)(off % csz) + len, buf, err);
	else
		ret = read_span(r, id, off, buf, len, err);
out_unlock:
	pthread_rwlock_unlock(&r->vis);
	return ret < 0 ? ret : (ssize_t)len;
}

static int rdb_stat(struct objstore *s, uint64_t id, struct objstore_stat *st,
		    struct mixfs_err *err)
{
	struct rdb_meta m;
	int ret = objstore_rdb_meta_get(rdb_of(s), id, &m, err);

	if (ret == 0)
		return objstore_rdb_no_object(id, err);
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
		return objstore_rdb_error(err, e, "iteration");
	return ret < 0 ? ret : 0;
}

struct seek_arg {
	int whence;
	uint64_t next;		/* the chunk index expected next */
	bool found;
};

static int seek_one(void *arg, const unsigned char *k, size_t klen,
		    size_t vlen)
{
	struct seek_arg *a = arg;
	uint64_t idx;

	(void)vlen;
	if (klen != 18)
		return -EUCLEAN;
	idx = get_be64(k + 10);
	if (a->whence == SEEK_DATA) {
		a->next = idx;
		a->found = true;
		return 1;
	}
	if (idx != a->next) {
		a->found = true;
		return 1;
	}
	a->next++;
	return 0;
}

/*
 * Holes are the absent chunk keys. An object whose chunks hold as many
 * bytes as its size has none (any absent chunk inside the size would make
 * the sum smaller), which answers the common case, a file written from
 * start to end, from the object record alone; otherwise one iterator walks
 * the chunk keys from @off's chunk on, to the first one (SEEK_DATA) or the
 * first gap (SEEK_HOLE).
 */
static int rdb_seek(struct objstore *s, uint64_t id, uint64_t off, int whence,
		    uint64_t *out, struct mixfs_err *err)
{
	struct rdb_store *r = rdb_of(s);
	const uint64_t csz = r->chunk;
	struct seek_arg a = { whence, off / csz, false };
	unsigned char lo[18], hi[18];
	struct rdb_meta m;
	uint64_t pos;
	int ret;

	pthread_rwlock_rdlock(&r->vis);
	ret = objstore_rdb_meta_get(r, id, &m, err);
	if (ret == 0)
		ret = objstore_rdb_no_object(id, err);
	if (ret < 0)
		goto out_unlock;
	ret = 0;
	if (off >= m.size) {
		ret = -ENXIO;
		goto out_unlock;
	}
	if (m.allocated >= m.size) {
		*out = whence == SEEK_DATA ? off : m.size;
		goto out_unlock;
	}
	key_data(lo, id, off / csz);
	key_data(hi, id, (m.size - 1) / csz + 1);
	ret = scan(r, lo, sizeof(lo), hi, sizeof(hi), seek_one, &a, err);
	if (ret == -EUCLEAN)
		ret = mixfs_err_set(err, ret, "malformed chunk key of object "
				    "%" PRIu64 ": store corrupt", id);
	if (ret)
		goto out_unlock;
	if (whence == SEEK_DATA && !a.found) {
		ret = -ENXIO;
		goto out_unlock;
	}
	/* SEEK_HOLE without a gap: the hole after the last chunk, or EOF. */
	pos = a.next * csz;
	*out = pos < off ? off : pos < m.size ? pos : m.size;
out_unlock:
	pthread_rwlock_unlock(&r->vis);
	return ret;
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
	ret = objstore_rdb_meta_get(r, id, &m, err);
	if (ret == 0)
		ret = objstore_rdb_no_object(id, err);
	if (ret < 0)
		goto out_unlock;
	v = rocksdb_get_pinned(r->db, r->ropts, (const char *)k,
			       key_attr(k, id, name), &e);
	if (e) {
		ret = objstore_rdb_error(err, e, "read");
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
	ret = objstore_rdb_meta_get(r, id, &m, err);
	if (ret == 0)
		ret = objstore_rdb_no_object(id, err);
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

/* How stale the host's free space may be in statfs (no capacity set). */
#define RDB_HOST_STATFS_MS 100

static int rdb_statfs(struct objstore *s, struct objstore_statfs *st,
		      struct mixfs_err *err)
{
	struct rdb_store *r = rdb_of(s);
	struct statvfs vfs;
	struct timespec now;
	uint64_t now_ms;

	pthread_rwlock_rdlock(&r->vis);
	st->used = r->ctr.used;
	st->objects = r->ctr.objects;
	pthread_rwlock_unlock(&r->vis);
	st->capacity = r->capacity;
	if (st->capacity)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	now_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
	if (!atomic_load(&r->host_read_ms) ||
	    now_ms - atomic_load(&r->host_read_ms) >= RDB_HOST_STATFS_MS) {
		if (statvfs(r->path, &vfs))
			return mixfs_err_set(err, -errno,
					     "statfs of %s failed: %s",
					     r->path, strerror(errno));
		atomic_store(&r->host_avail,
			     (uint64_t)vfs.f_bavail * vfs.f_frsize);
		atomic_store(&r->host_read_ms, now_ms ? now_ms : 1);
	}
	st->capacity = atomic_load(&r->host_avail) + st->used;
	return 0;
}

static int rdb_sync(struct objstore *s, struct mixfs_err *err)
{
	char *e = NULL;

	if (s->open_flags & OBJSTORE_OPEN_READONLY)
		return 0;	/* wrote nothing; RocksDB refuses the call */
	rocksdb_flush_wal(rdb_of(s)->db, 1, &e);
	return e ? objstore_rdb_error(err, e, "sync") : 0;
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
		return objstore_rdb_nomem(err);
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

static int put_record(struct rdb_store *r, const void *k,
		      size_t klen, const void *v, size_t vlen,
		      struct mixfs_err *err)
{
	char *e = NULL;

	rocksdb_put(r->db, r->wopts, (const char *)k, klen, v, vlen, &e);
	return e ? objstore_rdb_error(err, e, "write") : 0;
}

/* Read, or with @create write, the header and counters. */
static int load_header(struct rdb_store *r, unsigned flags, bool have_size,
		       uint64_t size, uint32_t chunk, struct mixfs_err *err)
{
	bool create = flags & OBJSTORE_OPEN_CREATE;
	bool writable = !(flags & OBJSTORE_OPEN_READONLY);
	struct rdb_header h;
	int ret = objstore_rdb_get_fixed(r, key_header, sizeof(key_header), &h, sizeof(h),
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
		if (!create || !writable)
			return mixfs_err_set(err, -ENOENT, "no store at %s",
					     r->path);
		memset(&h, 0, sizeof(h));
		memcpy(h.magic, RDB_MAGIC, sizeof(RDB_MAGIC));
		h.version = OBJSTORE_FORMAT_VERSION;
		h.chunk = chunk;
		uuid_generate(h.uuid);
		h.capacity = have_size ? size : 0;
		r->ctr.next_id = 1;
		ret = put_record(r, KEY_COUNTERS, 2, &r->ctr,
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
		ret = objstore_rdb_get_fixed(r, KEY_COUNTERS, 2, &r->ctr,
				sizeof(r->ctr), "store counters", err);
		if (ret == 0)
			ret = mixfs_err_set(err, -EUCLEAN,
				"%s: store counters missing: corrupt", r->path);
		if (ret < 0)
			return ret;
		if (have_size && h.capacity != size && writable) {
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
	bool readonly = flags & OBJSTORE_OPEN_READONLY;
	uint64_t size = 0;
	uint32_t chunk;
	char *e = NULL;
	int had_db, ret;

	r = calloc(1, sizeof(*r));
	if (!r)
		return objstore_rdb_nomem(err);
	pthread_mutex_init(&r->wlock, NULL);
	/* Writers first: a steady stream of readers must not starve them. */
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra,
		PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&r->vis, &ra);
	pthread_rwlockattr_destroy(&ra);
	if (objstore_uri_split(rest, &r->path, &query)) {
		ret = objstore_rdb_nomem(err);
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
	if (!had_db && (!create || readonly)) {
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
		ret = objstore_rdb_nomem(err);
		goto out_free;
	}
	rocksdb_options_set_create_if_missing(r->opts, !had_db);
	if (readonly)
		r->db = rocksdb_open_for_read_only(r->opts, r->path, 0, &e);
	else
		r->db = rocksdb_open(r->opts, r->path, &e);
	if (e) {
		r->db = NULL;
		ret = open_error(e, r->path, had_db, err);
		goto out_free;
	}
	ret = load_header(r, flags, have_size, size, chunk, err);
	if (ret)
		goto out_free;
	r->base.ops = &objstore_rocksdb_ops;
	r->base.caps = OBJSTORE_CAP_ATOMIC_TXN | OBJSTORE_CAP_DURABLE_SYNC |
		       OBJSTORE_CAP_PERSISTENT | OBJSTORE_CAP_CHECKSUM |
		       OBJSTORE_CAP_SEEK_HOLES;
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
	if (!(s->open_flags & OBJSTORE_OPEN_READONLY))
		rocksdb_flush_wal(r->db, 1, &e);
	if (e)
		ret = objstore_rdb_error(NULL, e, "sync");
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
	.seek = rdb_seek,
	.list = rdb_list,
	.getattr = rdb_getattr,
	.setattr = rdb_setattr,
	.rmattr = rdb_rmattr,
	.listattr = rdb_listattr,
	.statfs = rdb_statfs,
	.sync = rdb_sync,
	.txn_commit = rdb_txn_commit,
};
