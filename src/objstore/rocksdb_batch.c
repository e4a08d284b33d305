/*
 * rocksdb_batch.c - every change to a rocksdb: store, single call or
 * transaction, built as one RocksDB WriteBatch.
 *
 * The builder (struct bb) keeps an overlay of what the steps so far
 * changed: object records (struct pobj), chunks (struct pchunk) and
 * attributes (struct pattr). A step reads through the overlay, so a later
 * step sees earlier ones; stored chunks a truncate or remove dropped are
 * remembered as a limit (db_limit) rather than one by one. Capacity is
 * checked as the steps go. Only when every step succeeded does the overlay
 * become one batch, together with the updated counters; a failure discards
 * it, so nothing was written.
 *
 * The caller holds the store's wlock for the whole change (see rocksdb.c).
 * It deliberately does not sort or index the overlay: linear searches over
 * a change's few dozen entries are plenty fast and easy to follow.
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

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

/*
 * Batches are kept, cleared, for the next change instead of made afresh:
 * a WriteBatch grows by doubling its buffer, and on the test machine
 * building a fresh one for a 1 MiB write cost 1.8 ms of copies and page
 * faults, against 0.1 ms in a kept one (more than raw RocksDB's whole
 * put). Writers of one store take turns (wlock), so a few batches serve
 * every store of the process; one that grew past WB_KEEP_MAX bytes is
 * freed after use, so the kept ones hold at most a few MiB.
 */
#define WB_KEEP		2
#define WB_KEEP_MAX	(2u << 20)

static pthread_mutex_t wb_kept_lock = PTHREAD_MUTEX_INITIALIZER;
static rocksdb_writebatch_t *wb_kept[WB_KEEP];	/* cleared, idle */
static size_t wb_nkept;

static rocksdb_writebatch_t *wb_take(void)
{
	rocksdb_writebatch_t *wb = NULL;

	pthread_mutex_lock(&wb_kept_lock);
	if (wb_nkept)
		wb = wb_kept[--wb_nkept];
	pthread_mutex_unlock(&wb_kept_lock);
	return wb ? wb : rocksdb_writebatch_create();
}

static void wb_give(rocksdb_writebatch_t *wb)
{
	size_t size;

	rocksdb_writebatch_data(wb, &size);
	if (size <= WB_KEEP_MAX) {
		rocksdb_writebatch_clear(wb);
		pthread_mutex_lock(&wb_kept_lock);
		if (wb_nkept < WB_KEEP) {
			wb_kept[wb_nkept++] = wb;
			wb = NULL;
		}
		pthread_mutex_unlock(&wb_kept_lock);
	}
	if (wb)
		rocksdb_writebatch_destroy(wb);
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

/*
 * A changed chunk: @len bytes, in @buf (owned, room for a whole chunk) or,
 * when a step wrote the whole chunk, still in that step's buffer (@src,
 * which outlives the change: the caller's for a single call, the
 * transaction's for a commit). Borrowing saves copying every whole chunk a
 * large write carries; a later step that changes part of the chunk takes
 * a copy first.
 */
struct pchunk {
	uint64_t id, idx;
	unsigned char *buf;	/* NULL when removed or borrowed */
	const unsigned char *src; /* borrowed bytes, or NULL */
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
	/* An id at or past next_id was never used (unless next_id stopped
	 * at UINT64_MAX, which may be in use): no need to look. Creating
	 * an object in id order, as create_fresh does, then costs no read. */
	if (id >= b->ctr.next_id && b->ctr.next_id != UINT64_MAX)
		ret = 0;
	else
		ret = objstore_rdb_meta_get(b->r, id, &o->m, err);
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
	c->src = NULL;
	c->len = 0;
	return c;
}

/* Is chunk @idx of @o possibly in the database, as seen by the change? */
static bool stored_chunk_live(struct bb *b, const struct pobj *o, uint64_t idx)
{
	return o->existed && idx < o->db_limit &&
	       idx < (o->size0 + b->r->chunk - 1) / b->r->chunk;
}

/*
 * Chunk @idx of @o, loaded on first use, with its bytes in c->buf to
 * change. With @whole the caller replaces every byte: only the length
 * matters, no buffer is made, and a stored chunk that fails its checksum
 * can be overwritten (repaired).
 */
static int bb_chunk(struct bb *b, struct pobj *o, uint64_t idx, bool whole,
		    struct pchunk **out, struct mixfs_err *err)
{
	struct rdb_store *r = b->r;
	struct pchunk *c = pchunk_find(b, o->id, idx);
	rocksdb_pinnableslice_t *v = NULL;
	unsigned char k[18];
	char *e = NULL;

	if (c && (c->buf || whole)) {
		*out = c;
		return 0;
	}
	if (c) {	/* removed or borrowed: make it our own */
		c->buf = malloc(r->chunk + HASH_LEN);
		if (!c->buf)
			return objstore_rdb_nomem(err);
		if (c->len)
			memcpy(c->buf, c->src, c->len);
		c->src = NULL;
		*out = c;
		return 0;
	}
	if (stored_chunk_live(b, o, idx)) {
		key_data(k, o->id, idx);
		v = rocksdb_get_pinned(r->db, r->ropts, (const char *)k,
				       sizeof(k), &e);
		if (e)
			return objstore_rdb_error(err, e, "read");
	}
	if (!(c = pchunk_add(b, o->id, idx)))
		goto out_nomem;
	if (!whole && !(c->buf = malloc(r->chunk + HASH_LEN)))
		goto out_nomem;
	if (v) {
		size_t vlen;
		const char *p = rocksdb_pinnableslice_value(v, &vlen);
		ssize_t len;

		if (whole && vlen >= HASH_LEN && vlen - HASH_LEN <= r->chunk)
			len = (ssize_t)(vlen - HASH_LEN);
		else
			len = objstore_rdb_chunk_check(r, o->id, idx, p, vlen,
						       err);
		if (len >= 0 && !whole)
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
	return objstore_rdb_nomem(err);
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

		ret = bb_chunk(b, o, idx, from == 0 && to == csz, &c, err);
		if (ret)
			return ret;
		if (from == 0 && to == csz) {
			free(c->buf);
			c->buf = NULL;
			c->src = buf + (cstart - off);
		} else {
			if (from > c->len)
				memset(c->buf + c->len, 0, from - c->len);
			memcpy(c->buf + from, buf + (cstart + from - off),
			       to - from);
		}
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
			ret = objstore_rdb_nomem(err);
			break;
		}
		c->len = vlen >= HASH_LEN ? vlen - HASH_LEN : 0;
		chunk_drop(o, c);
	}
	rocksdb_iter_get_error(it, &e);
	if (e && !ret)
		ret = objstore_rdb_error(err, e, "iteration");
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
			ret = bb_chunk(b, o, idx, false, &c, err);
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
	int ret = bb_chunk(b, o, idx, false, &c, err);

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
		return objstore_rdb_nomem(err);
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
			return objstore_rdb_error(err, e, "read");
		present = v != NULL;
		rocksdb_pinnableslice_destroy(v);
	}
	if (!present)
		return mixfs_err_set(err, -ENODATA,
			"object %llu has no attribute '%s'",
			(unsigned long long)o->id, name);
	a = pattr_get(b, o->id, name);
	if (!a)
		return objstore_rdb_nomem(err);
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
		return objstore_rdb_no_object(st->id, err);
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
	return e ? objstore_rdb_error(err, e, "iteration") : 0;
}

/* Turn the overlay into one batch and apply it. */
static int bb_commit(struct bb *b, struct mixfs_err *err)
{
	struct rdb_store *r = b->r;
	rocksdb_writebatch_t *wb = wb_take();
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
			const unsigned char *data = c->src ? c->src : c->buf;
			uint64_t h = chunk_hash(data, c->len, c->id, c->idx);
			const char *kp = (const char *)k;
			const char *vp[2] = { (const char *)data,
					      (const char *)&h };
			size_t klen = 18, vlen[2] = { c->len, HASH_LEN };

			/* The value is the bytes then their hash, put as
			 * two parts: RocksDB copies them into the batch
			 * once, where one buffer would cost a copy more. */
			rocksdb_writebatch_putv(wb, 1, &kp, &klen, 2, vp, vlen);
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
	rocksdb_writebatch_put(wb, KEY_COUNTERS, 2, (const char *)&b->ctr,
			       sizeof(b->ctr));
	if (!ret) {
		pthread_rwlock_wrlock(&r->vis);
		rocksdb_write(r->db, r->wopts, wb, &e);
		if (!e)
			r->ctr = b->ctr;
		pthread_rwlock_unlock(&r->vis);
		if (e)
			ret = objstore_rdb_error(err, e, "write");
	}
	wb_give(wb);
	return ret;
}

int objstore_rdb_apply_locked(struct rdb_store *r,
			    const struct objstore_step *steps, size_t n,
			    bool txn, struct mixfs_err *err)
{
	struct bb b;
	size_t i;
	int ret;

	ret = bb_init(&b, r, n);
	if (ret)
		ret = objstore_rdb_nomem(err);
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

int objstore_rdb_apply(struct rdb_store *r, const struct objstore_step *steps,
		     size_t n, bool txn, struct mixfs_err *err)
{
	int ret;

	pthread_mutex_lock(&r->wlock);
	ret = objstore_rdb_apply_locked(r, steps, n, txn, err);
	pthread_mutex_unlock(&r->wlock);
	return ret;
}

