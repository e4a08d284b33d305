/*
 * cache.c - the cache: backend: a bounded local store in front of a slow
 * remote one. The URI, the behaviour and the restart rules are in
 * objstore_cache.h; this file follows them.
 *
 * The index. Every cached piece is a struct cpiece in a hash by (id,
 * piece number), on one LRU list, and on its object's list. Every object
 * that has pieces or a call in progress is a struct cobj in a hash by id.
 * One mutex (cache_store.lock) protects all of it; it is held only for
 * index work and for evicting (so that an eviction's punch cannot land on
 * a piece being filled), never across a remote call.
 *
 * Per object, an rwlock orders the data: reads take it shared, changes
 * exclusive. A change thus never runs beside a read of the same object,
 * so a read cannot fill a piece with data a write is replacing, and it
 * sees a write whole or not at all (across pieces too). Objects are locked
 * in ascending id order where one call needs several (transactions).
 *
 * A piece is pinned while a thread reads, writes or fills it; eviction
 * skips pinned pieces. A piece being filled is in the index (so the room it
 * needs is counted and no second thread fills it) but not yet valid.
 *
 * It deliberately does not cache metadata (size, attributes, lists):
 * those calls go to the remote, which is authoritative; nor does it write
 * back: every change reaches the remote before the call returns.
 */
#include "objstore/backend.h"
#include "objstore/objstore_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Pieces are counted in units of the largest local chunk (rocksdb:'s). */
#define UNIT		(64u * 1024u)
#define PIECE_MIN	(64u * 1024u)
#define PIECE_MAX	(32u << 20)
/* Most bytes one remote read fetches for neighbouring missing pieces. */
#define RUN_MAX		(8u << 20)
/* Local attribute holding an object's record across a clean close. */
#define REC_ATTR	"mixfs.cache"
#define REC_MAGIC	"MXC1"
#define REC_HEAD	48u

struct cobj;

struct cpiece {
	uint64_t id, idx;
	uint32_t len;		/* bytes valid from the piece's start */
	uint32_t pins;		/* threads using it; never evicted while > 0 */
	bool filling;		/* in the index, data not written yet */
	struct cobj *obj;
	struct cpiece *hnext;			/* hash chain */
	struct cpiece *lprev, *lnext;		/* LRU; head = newest */
	struct cpiece *oprev, *onext;		/* the object's pieces */
};

struct cobj {
	uint64_t id;
	pthread_rwlock_t rw;	/* shared: reads; exclusive: changes */
	/* The rest is protected by cache_store.lock. */
	unsigned users;		/* calls holding or waiting for rw */
	struct cpiece *pieces;
	size_t npieces;
	struct cpiece *tail;	/* the piece holding the end, if partial */
	bool local_exists;	/* the local object has been created */
	bool checked;		/* record compared with the remote */
	bool changed;		/* changed through the cache since open */
	bool have_version;	/* size/mtime below are the remote's now */
	bool stray;		/* a piece's bytes could not be dropped */
	uint64_t size;
	struct timespec mtime;
	struct cobj *hnext;
};

struct cache_store {
	struct objstore base;
	struct objstore *local, *remote;	/* owned; fixed after open */
	uint32_t piece;
	uint64_t max, margin;
	unsigned char remote_uuid[16];
	objstore_cache_warn_fn warn;		/* set before use, then read-only */
	void *warn_arg;

	pthread_mutex_t lock;		/* protects every field below */
	struct cpiece **phash;
	struct cobj **ohash;
	size_t nbuckets;		/* power of two, both hashes */
	struct cpiece *lru_head, *lru_tail;
	uint64_t used;			/* bytes counted against max */
	bool local_ok;
	struct objstore_cache_stats st;
};

static struct cache_store *to_cache(struct objstore *s)
{
	return container_of(s, struct cache_store, base);
}

static uint64_t units(uint32_t len)
{
	return ((uint64_t)len + UNIT - 1) / UNIT * UNIT;
}

static size_t hash_of(const struct cache_store *cs, uint64_t id, uint64_t idx)
{
	uint64_t x = id * UINT64_C(0x9e3779b97f4a7c15) ^ idx;

	x ^= x >> 29;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 32;
	return (size_t)x & (cs->nbuckets - 1);
}

/* --- warnings ----------------------------------------------------------- */

/* A local call failed with @code. Caller may hold cs->lock. */
static void local_failed(struct cache_store *cs, int code, uint64_t id,
			 uint64_t off, const char *what)
{
	char msg[200];
	bool first;

	/* Whether the lock is held or not, the flag and counter are only a
	 * hint for the hook; a lost update costs one warning more or less. */
	first = __atomic_exchange_n(&cs->local_ok, false, __ATOMIC_RELAXED);
	__atomic_add_fetch(&cs->st.local_errors, 1, __ATOMIC_RELAXED);
	if (!first || !cs->warn)
		return;
	snprintf(msg, sizeof(msg),
		 "cache: local store failed (%s of object %llu at %llu: %s); "
		 "serving from the remote", what, (unsigned long long)id,
		 (unsigned long long)off, strerror(-code));
	cs->warn(cs->warn_arg, OBJSTORE_CACHE_LOCAL_FAILED, code, id, off, msg);
}

static void local_worked(struct cache_store *cs)
{
	if (__atomic_load_n(&cs->local_ok, __ATOMIC_RELAXED))
		return;
	if (__atomic_exchange_n(&cs->local_ok, true, __ATOMIC_RELAXED))
		return;
	if (cs->warn)
		cs->warn(cs->warn_arg, OBJSTORE_CACHE_LOCAL_RECOVERED, 0, 0, 0,
			 "cache: local store works again");
}

/* --- the index (caller holds cs->lock) ---------------------------------- */

static struct cobj *obj_find(struct cache_store *cs, uint64_t id)
{
	struct cobj *o = cs->ohash[hash_of(cs, id, 0)];

	while (o && o->id != id)
		o = o->hnext;
	return o;
}

static struct cpiece *piece_find(struct cache_store *cs, uint64_t id,
				 uint64_t idx)
{
	struct cpiece *p = cs->phash[hash_of(cs, id, idx)];

	while (p && (p->id != id || p->idx != idx))
		p = p->hnext;
	return p;
}

static void lru_unlink(struct cache_store *cs, struct cpiece *p)
{
	if (p->lprev)
		p->lprev->lnext = p->lnext;
	else if (cs->lru_head == p)
		cs->lru_head = p->lnext;
	if (p->lnext)
		p->lnext->lprev = p->lprev;
	else if (cs->lru_tail == p)
		cs->lru_tail = p->lprev;
	p->lprev = p->lnext = NULL;
}

static void lru_push(struct cache_store *cs, struct cpiece *p)
{
	p->lprev = NULL;
	p->lnext = cs->lru_head;
	if (cs->lru_head)
		cs->lru_head->lprev = p;
	cs->lru_head = p;
	if (!cs->lru_tail)
		cs->lru_tail = p;
}

/* Link @p (filled in by the caller) into the hash and its object. */
static void piece_link(struct cache_store *cs, struct cobj *o,
		       struct cpiece *p)
{
	size_t h = hash_of(cs, p->id, p->idx);

	p->obj = o;
	p->hnext = cs->phash[h];
	cs->phash[h] = p;
	p->oprev = NULL;
	p->onext = o->pieces;
	if (o->pieces)
		o->pieces->oprev = p;
	o->pieces = p;
	o->npieces++;
	if (p->len < cs->piece)
		o->tail = p;
	cs->used += units(p->len);
	cs->st.pieces++;
}

/* Take @p out of every list and the counts; the caller frees it. */
static void piece_unlink(struct cache_store *cs, struct cpiece *p)
{
	struct cpiece **pp = &cs->phash[hash_of(cs, p->id, p->idx)];
	struct cobj *o = p->obj;

	while (*pp != p)
		pp = &(*pp)->hnext;
	*pp = p->hnext;
	lru_unlink(cs, p);
	if (p->oprev)
		p->oprev->onext = p->onext;
	else
		o->pieces = p->onext;
	if (p->onext)
		p->onext->oprev = p->oprev;
	o->npieces--;
	if (o->tail == p)
		o->tail = NULL;
	cs->used -= units(p->len);
	cs->st.pieces--;
}

static void obj_free_locked(struct cache_store *cs, struct cobj *o)
{
	struct cobj **pp = &cs->ohash[hash_of(cs, o->id, 0)];

	while (*pp != o)
		pp = &(*pp)->hnext;
	*pp = o->hnext;
	pthread_rwlock_destroy(&o->rw);
	free(o);
}

static void obj_maybe_free(struct cache_store *cs, struct cobj *o)
{
	if (o->users == 0 && o->npieces == 0)
		obj_free_locked(cs, o);
}

/*
 * Drop @p (not pinned) from the index and its bytes from the local store:
 * the object's last piece removes the local object. If the local store
 * fails, the bytes stay counted in used (they may still be there), so the
 * bound holds; the piece is gone from the index either way.
 */
static void piece_drop(struct cache_store *cs, struct cpiece *p)
{
	struct cobj *o = p->obj;
	uint64_t keep = 0;
	int ret;

	piece_unlink(cs, p);
	if (o->npieces == 0 && o->local_exists) {
		ret = objstore_remove(cs->local, o->id, NULL);
		if (ret == 0 || ret == -ENOENT)
			o->local_exists = false;
	} else {
		ret = objstore_punch(cs->local, o->id, p->idx * cs->piece,
				     cs->piece, NULL);
	}
	if (ret && ret != -ENOENT) {
		keep = units(p->len);
		o->stray = true;
		local_failed(cs, ret, o->id, p->idx * cs->piece, "evict");
	}
	cs->used += keep;
	free(p);
}

/* Evict least recently used pieces until @need more bytes fit under the
 * bound and at least @free_more bytes were freed. false if they cannot. */
static bool make_room(struct cache_store *cs, uint64_t need, uint64_t free_more)
{
	uint64_t freed = 0;

	while (cs->used + need > cs->max || freed < free_more) {
		struct cpiece *p = cs->lru_tail;
		uint64_t before = cs->used;
		struct cobj *o;

		while (p && p->pins)
			p = p->lprev;
		if (!p)
			return false;
		o = p->obj;
		piece_drop(cs, p);
		obj_maybe_free(cs, o);
		cs->st.evictions++;
		if (cs->used >= before)
			return false;	/* the local store would not let go */
		freed += before - cs->used;
	}
	return true;
}

/* Drop every unpinned piece of @o for which @pred says so. */
static void drop_pieces(struct cache_store *cs, struct cobj *o,
			bool (*pred)(const struct cache_store *cs,
				     const struct cpiece *p, uint64_t a,
				     uint64_t b),
			uint64_t a, uint64_t b)
{
	struct cpiece *p = o->pieces, *next;

	for (; p; p = next) {
		next = p->onext;
		if (!p->pins && pred(cs, p, a, b))
			piece_drop(cs, p);
	}
}

static bool pred_all(const struct cache_store *cs, const struct cpiece *p,
		     uint64_t a, uint64_t b)
{
	(void)cs; (void)p; (void)a; (void)b;
	return true;
}

/* Pieces overlapping [a, b). */
static bool pred_overlap(const struct cache_store *cs, const struct cpiece *p,
			 uint64_t a, uint64_t b)
{
	uint64_t start = p->idx * cs->piece;

	return start < b && start + cs->piece > a;
}

/* Pieces reaching past size @a, and the partial piece (the end moves). */
static bool pred_resize(const struct cache_store *cs, const struct cpiece *p,
			uint64_t a, uint64_t b)
{
	(void)b;
	return p->idx * cs->piece + p->len > a || p->len < cs->piece;
}

/* --- objects: finding, locking, checking the record ---------------------- */

static int check_record(struct cache_store *cs, struct cobj *o,
			struct mixfs_err *err)
{
	struct objstore_stat st;
	int ret = objstore_stat(cs->remote, o->id, &st, err);

	if (ret && ret != -ENOENT)
		return ret;
	pthread_mutex_lock(&cs->lock);
	if (ret || st.size != o->size || st.mtime.tv_sec != o->mtime.tv_sec ||
	    st.mtime.tv_nsec != o->mtime.tv_nsec) {
		drop_pieces(cs, o, pred_all, 0, 0);
		o->have_version = false;
	}
	o->checked = true;
	pthread_mutex_unlock(&cs->lock);
	if (ret && err)
		mixfs_err_clear(err);
	return 0;
}

static void obj_leave(struct cache_store *cs, struct cobj *o)
{
	pthread_rwlock_unlock(&o->rw);
	pthread_mutex_lock(&cs->lock);
	o->users--;
	obj_maybe_free(cs, o);
	pthread_mutex_unlock(&cs->lock);
}

/*
 * Find or make @id's entry and lock it (@excl: exclusively). The first
 * call on an object recorded at open compares the record with the remote.
 */
static int obj_enter(struct cache_store *cs, uint64_t id, bool excl,
		     struct cobj **out, struct mixfs_err *err)
{
	struct cobj *fresh = calloc(1, sizeof(*fresh)), *o;
	bool checked;
	int ret;

	if (!fresh)
		return mixfs_err_set(err, -ENOMEM, "cache: out of memory");
	pthread_mutex_lock(&cs->lock);
	o = obj_find(cs, id);
	if (!o) {
		size_t h = hash_of(cs, id, 0);

		o = fresh;
		fresh = NULL;
		o->id = id;
		o->checked = true;
		pthread_rwlock_init(&o->rw, NULL);
		o->hnext = cs->ohash[h];
		cs->ohash[h] = o;
	}
	o->users++;
	pthread_mutex_unlock(&cs->lock);
	free(fresh);

	for (;;) {
		if (excl)
			pthread_rwlock_wrlock(&o->rw);
		else
			pthread_rwlock_rdlock(&o->rw);
		pthread_mutex_lock(&cs->lock);
		checked = o->checked;
		pthread_mutex_unlock(&cs->lock);
		if (checked)
			break;
		if (!excl) {
			pthread_rwlock_unlock(&o->rw);
			pthread_rwlock_wrlock(&o->rw);
		}
		ret = check_record(cs, o, err);
		if (ret) {
			obj_leave(cs, o);
			return ret;
		}
		if (excl)
			break;
		pthread_rwlock_unlock(&o->rw);
	}
	*out = o;
	return 0;
}

/* --- reading ------------------------------------------------------------ */

/*
 * Keep @len bytes of piece @idx of @o (read from the remote into @data) in
 * the local store, if there is room. Caller holds @o's rwlock. Failures
 * are counted and reported, never returned.
 */
static void fill_piece(struct cache_store *cs, struct cobj *o, uint64_t idx,
		       const void *data, uint32_t len)
{
	struct cpiece *p = calloc(1, sizeof(*p));
	struct objstore_statfs sf;
	uint64_t need = units(len), room = UINT64_MAX, deficit = 0;
	bool create;
	int ret;

	if (!p)
		goto out_skip;
	ret = objstore_statfs(cs->local, &sf, NULL);
	if (ret) {
		local_failed(cs, ret, o->id, idx * cs->piece, "statfs");
		goto out_skip;
	}
	if (sf.capacity > sf.used)
		room = sf.capacity - sf.used;
	else
		room = 0;
	room = room > cs->margin ? room - cs->margin : 0;
	if (need > room)
		deficit = need - room;

	pthread_mutex_lock(&cs->lock);
	if (piece_find(cs, o->id, idx) || !make_room(cs, need, deficit)) {
		pthread_mutex_unlock(&cs->lock);
		goto out_skip;
	}
	p->id = o->id;
	p->idx = idx;
	p->len = len;
	p->pins = 1;
	p->filling = true;
	piece_link(cs, o, p);
	create = !o->local_exists;
	pthread_mutex_unlock(&cs->lock);

	ret = 0;
	if (create) {
		ret = objstore_create(cs->local, o->id, NULL);
		if (ret == -EEXIST)
			ret = 0;
	}
	if (!ret)
		ret = objstore_write(cs->local, o->id, idx * cs->piece, data, len,
				     NULL);

	pthread_mutex_lock(&cs->lock);
	if (create && !ret)
		o->local_exists = true;
	p->pins = 0;
	p->filling = false;
	if (ret) {
		/* A failed write changed nothing: only unlink. */
		piece_unlink(cs, p);
		cs->st.fills_skipped++;
		pthread_mutex_unlock(&cs->lock);
		free(p);
		local_failed(cs, ret, o->id, idx * cs->piece,
			     create ? "create or write" : "write");
		return;
	}
	lru_push(cs, p);
	cs->st.fills++;
	pthread_mutex_unlock(&cs->lock);
	local_worked(cs);
	return;

out_skip:
	pthread_mutex_lock(&cs->lock);
	cs->st.fills_skipped++;
	pthread_mutex_unlock(&cs->lock);
	free(p);
}

/*
 * Read from the remote the missing pieces starting at piece @idx (as many
 * neighbours as the read needs, up to RUN_MAX), copy what the caller asked
 * for ([@pos, @end)) into @dst and fill the pieces. Returns bytes copied
 * (short only at the end of the object) or a negative errno.
 */
static ssize_t read_miss(struct cache_store *cs, struct cobj *o, uint64_t idx,
			 uint64_t pos, uint64_t end, unsigned char *dst,
			 struct mixfs_err *err)
{
	uint64_t start = idx * cs->piece, last = (end - 1) / cs->piece, n = 1;
	uint64_t got, want, k;
	unsigned char *tmp;
	ssize_t r;

	/* Extend the run over neighbours that are missing too. */
	pthread_mutex_lock(&cs->lock);
	while (idx + n <= last && (n + 1) * cs->piece <= RUN_MAX &&
	       !piece_find(cs, o->id, idx + n))
		n++;
	pthread_mutex_unlock(&cs->lock);
	tmp = malloc(n * cs->piece);
	if (!tmp)
		return mixfs_err_set(err, -ENOMEM, "cache: out of memory");
	r = objstore_read(cs->remote, o->id, start, tmp, n * cs->piece, err);
	if (r < 0) {
		free(tmp);
		return r;
	}
	got = (uint64_t)r;
	pthread_mutex_lock(&cs->lock);
	cs->st.misses += n;
	pthread_mutex_unlock(&cs->lock);
	want = (end < start + n * cs->piece ? end : start + n * cs->piece) - pos;
	if (pos - start >= got)
		want = 0;
	else if (pos - start + want > got)
		want = got - (pos - start);
	memcpy(dst, tmp + (pos - start), want);
	for (k = 0; k * cs->piece < got; k++) {
		uint64_t len = got - k * cs->piece;

		fill_piece(cs, o, idx + k, tmp + k * cs->piece,
			   (uint32_t)(len < cs->piece ? len : cs->piece));
	}
	free(tmp);
	return (ssize_t)want;
}

static ssize_t cache_read(struct objstore *s, uint64_t id, uint64_t off,
			  void *buf, size_t len, struct mixfs_err *err)
{
	struct cache_store *cs = to_cache(s);
	unsigned char *dst = buf;
	uint64_t pos = off, end = off + len;
	struct cobj *o;
	ssize_t ret = 0;

	if (len == 0)
		return objstore_read(cs->remote, id, off, buf, 0, err);
	ret = obj_enter(cs, id, false, &o, err);
	if (ret)
		return ret;
	while (pos < end) {
		uint64_t idx = pos / cs->piece, pstart = idx * cs->piece;
		struct cpiece *p;
		ssize_t n;

		pthread_mutex_lock(&cs->lock);
		p = piece_find(cs, id, idx);
		if (p && !p->filling) {
			p->pins++;
			lru_unlink(cs, p);
			lru_push(cs, p);
		} else {
			p = NULL;
		}
		pthread_mutex_unlock(&cs->lock);

		if (p && pos >= pstart + p->len) {
			/* Past the end, inside the object's last piece. */
			pthread_mutex_lock(&cs->lock);
			p->pins--;
			cs->st.hits++;
			pthread_mutex_unlock(&cs->lock);
			break;
		}
		if (p) {
			uint64_t vend = pstart + p->len;
			uint64_t want = (end < vend ? end : vend) - pos;
			bool partial = p->len < cs->piece;

			n = objstore_read(cs->local, id, pos, dst, want, NULL);
			pthread_mutex_lock(&cs->lock);
			p->pins--;
			if (n == (ssize_t)want) {
				cs->st.hits++;
				pthread_mutex_unlock(&cs->lock);
				local_worked(cs);
				pos += want;
				dst += want;
				if (partial && pos >= vend)
					break;	/* the end of the object */
				continue;
			}
			/* Bad local copy: forget it (unless another reader is
			 * on it still), fetch and fill again. */
			if (!p->pins)
				piece_drop(cs, p);
			if (n == -EBADMSG)
				cs->st.repairs++;
			pthread_mutex_unlock(&cs->lock);
			if (n == -EBADMSG && cs->warn) {
				char msg[160];

				snprintf(msg, sizeof(msg),
					 "cache: object %llu piece at %llu "
					 "failed its checksum; fetched again "
					 "from the remote",
					 (unsigned long long)id,
					 (unsigned long long)pstart);
				cs->warn(cs->warn_arg, OBJSTORE_CACHE_REPAIRED,
					 -EBADMSG, id, pstart, msg);
			} else if (n != -EBADMSG) {
				local_failed(cs, n < 0 ? (int)n : -EIO, id, pos,
					     "read");
			}
		}
		n = read_miss(cs, o, idx, pos, end, dst, err);
		if (n < 0) {
			ret = n;
			break;
		}
		pos += (uint64_t)n;
		dst += n;
		if (pos < end && pos % cs->piece)
			break;	/* short: the end of the object */
		if (n == 0)
			break;
	}
	obj_leave(cs, o);
	return ret < 0 ? ret : (ssize_t)(pos - off);
}

/* --- changes: through to the remote, then the cached pieces -------------- */

/* After @len bytes of @buf were written at @off to the remote: update the
 * whole pieces the write covers part of, drop the partial one if the end
 * may have moved. Caller holds @o exclusively. */
static void after_write(struct cache_store *cs, struct cobj *o, uint64_t off,
			const unsigned char *buf, size_t len)
{
	uint64_t end = off + len, idx, last;

	pthread_mutex_lock(&cs->lock);
	o->changed = true;
	o->have_version = false;
	if (o->tail && end > o->tail->idx * cs->piece + o->tail->len)
		piece_drop(cs, o->tail);
	pthread_mutex_unlock(&cs->lock);
	if (len == 0)
		return;
	last = (end - 1) / cs->piece;
	for (idx = off / cs->piece; idx <= last; idx++) {
		uint64_t pstart = idx * cs->piece, a, b;
		struct cpiece *p;
		int ret;

		pthread_mutex_lock(&cs->lock);
		p = o->npieces ? piece_find(cs, o->id, idx) : NULL;
		if (p)
			p->pins++;
		pthread_mutex_unlock(&cs->lock);
		if (!p)
			continue;
		a = off > pstart ? off : pstart;
		b = end < pstart + p->len ? end : pstart + p->len;
		ret = objstore_write(cs->local, o->id, a, buf + (a - off),
				     b - a, NULL);
		pthread_mutex_lock(&cs->lock);
		p->pins--;
		if (ret)
			piece_drop(cs, p);
		pthread_mutex_unlock(&cs->lock);
		if (ret)
			local_failed(cs, ret, o->id, a, "write");
	}
}

static int cache_write(struct objstore *s, uint64_t id, uint64_t off,
		       const void *buf, size_t len, struct mixfs_err *err)
{
	struct cache_store *cs = to_cache(s);
	struct cobj *o;
	int ret = obj_enter(cs, id, true, &o, err);

	if (ret)
		return ret;
	ret = objstore_write(cs->remote, id, off, buf, len, err);
	if (!ret)
		after_write(cs, o, off, buf, len);
	obj_leave(cs, o);
	return ret;
}

/* Drop @o's pieces that @pred picks, once the remote has changed. */
static void after_change(struct cache_store *cs, struct cobj *o,
			 bool (*pred)(const struct cache_store *cs,
				      const struct cpiece *p, uint64_t a,
				      uint64_t b),
			 uint64_t a, uint64_t b)
{
	pthread_mutex_lock(&cs->lock);
	o->changed = true;
	o->have_version = false;
	drop_pieces(cs, o, pred, a, b);
	if (pred == pred_all && o->npieces == 0 && o->local_exists) {
		int ret = objstore_remove(cs->local, o->id, NULL);

		if (ret == 0 || ret == -ENOENT)
			o->local_exists = false;
		else
			local_failed(cs, ret, o->id, 0, "remove");
	}
	pthread_mutex_unlock(&cs->lock);
}

static int cache_truncate(struct objstore *s, uint64_t id, uint64_t size,
			  struct mixfs_err *err)
{
	struct cache_store *cs = to_cache(s);
	struct cobj *o;
	int ret = obj_enter(cs, id, true, &o, err);

	if (ret)
		return ret;
	ret = objstore_truncate(cs->remote, id, size, err);
	if (!ret)
		after_change(cs, o, pred_resize, size, 0);
	obj_leave(cs, o);
	return ret;
}

static int cache_punch(struct objstore *s, uint64_t id, uint64_t off,
		       uint64_t len, struct mixfs_err *err)
{
	struct cache_store *cs = to_cache(s);
	struct cobj *o;
	int ret = obj_enter(cs, id, true, &o, err);

	if (ret)
		return ret;
	ret = objstore_punch(cs->remote, id, off, len, err);
	if (!ret)
		after_change(cs, o, pred_overlap, off, off + len);
	obj_leave(cs, o);
	return ret;
}

/* The remote holds every byte, so it alone knows the holes. */
static int cache_seek(struct objstore *s, uint64_t id, uint64_t off,
		      int whence, uint64_t *out, struct mixfs_err *err)
{
	return objstore_seek(to_cache(s)->remote, id, off, whence, out, err);
}

static int cache_remove(struct objstore *s, uint64_t id, struct mixfs_err *err)
{
	struct cache_store *cs = to_cache(s);
	struct cobj *o;
	int ret = obj_enter(cs, id, true, &o, err);

	if (ret)
		return ret;
	ret = objstore_remove(cs->remote, id, err);
	if (!ret)
		after_change(cs, o, pred_all, 0, 0);
	obj_leave(cs, o);
	return ret;
}

static int cache_create(struct objstore *s, uint64_t id, struct mixfs_err *err)
{
	struct cache_store *cs = to_cache(s);
	struct cobj *o;
	int ret = obj_enter(cs, id, true, &o, err);

	if (ret)
		return ret;
	ret = objstore_create(cs->remote, id, err);
	if (!ret)
		after_change(cs, o, pred_all, 0, 0);
	obj_leave(cs, o);
	return ret;
}

static int cache_create_fresh(struct objstore *s, uint64_t *id,
			      struct mixfs_err *err)
{
	struct cache_store *cs = to_cache(s);
	struct cobj *o;
	bool stale;
	int ret = objstore_create_fresh(cs->remote, id, err);

	if (ret)
		return ret;
	/* A fresh id is new to the remote; pieces recorded under it are
	 * from an object that is gone. */
	pthread_mutex_lock(&cs->lock);
	o = obj_find(cs, *id);
	stale = o && o->npieces;
	pthread_mutex_unlock(&cs->lock);
	if (stale && !obj_enter(cs, *id, true, &o, NULL)) {
		after_change(cs, o, pred_all, 0, 0);
		obj_leave(cs, o);
	}
	return 0;
}

/* --- passed through: metadata is the remote's --------------------------- */

static int cache_stat(struct objstore *s, uint64_t id,
		      struct objstore_stat *st, struct mixfs_err *err)
{
	return objstore_stat(to_cache(s)->remote, id, st, err);
}

static int cache_list(struct objstore *s, uint64_t *cursor, uint64_t *ids,
		      size_t max, size_t *n, struct mixfs_err *err)
{
	return objstore_list(to_cache(s)->remote, cursor, ids, max, n, err);
}

static ssize_t cache_getattr(struct objstore *s, uint64_t id,
			     const char *name, void *buf, size_t size,
			     struct mixfs_err *err)
{
	return objstore_getattr(to_cache(s)->remote, id, name, buf, size, err);
}

static int cache_setattr(struct objstore *s, uint64_t id, const char *name,
			 const void *val, size_t len, struct mixfs_err *err)
{
	return objstore_setattr(to_cache(s)->remote, id, name, val, len, err);
}

static int cache_rmattr(struct objstore *s, uint64_t id, const char *name,
			struct mixfs_err *err)
{
	return objstore_rmattr(to_cache(s)->remote, id, name, err);
}

static ssize_t cache_listattr(struct objstore *s, uint64_t id, char *buf,
			      size_t size, struct mixfs_err *err)
{
	return objstore_listattr(to_cache(s)->remote, id, buf, size, err);
}

static int cache_statfs(struct objstore *s, struct objstore_statfs *st,
			struct mixfs_err *err)
{
	return objstore_statfs(to_cache(s)->remote, st, err);
}

static int cache_sync(struct objstore *s, struct mixfs_err *err)
{
	return objstore_sync(to_cache(s)->remote, err);
}

/* --- transactions ------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * With an atomic remote: lock every object the transaction changes (in
 * ascending id order), commit the whole of it on the remote, then drop
 * those objects' pieces. Without one, the steps go through the cache's own
 * calls one by one, as objstore.c would apply them.
 */
static int cache_txn_commit(struct objstore *s, const struct objstore_txn *t,
			    struct mixfs_err *err)
{
	struct cache_store *cs = to_cache(s);
	struct objstore_txn *rt;
	struct cobj **objs;
	uint64_t *ids;
	size_t i, n = 0, locked = 0;
	int ret;

	if (!(cs->base.caps & OBJSTORE_CAP_ATOMIC_TXN))
		return objstore_txn_apply_steps(s, t, err);
	ids = malloc(t->nsteps * sizeof(*ids));
	objs = calloc(t->nsteps, sizeof(*objs));
	rt = objstore_txn_new(cs->remote);
	if (!ids || !objs || !rt) {
		ret = mixfs_err_set(err, -ENOMEM, "cache: out of memory");
		goto out_free;
	}
	ret = objstore_txn_copy(rt, t);
	if (ret) {
		mixfs_err_set(err, ret, "cache: copying a transaction failed");
		goto out_free;
	}
	for (i = 0; i < t->nsteps; i++)
		ids[i] = t->steps[i].id;
	qsort(ids, t->nsteps, sizeof(*ids), cmp_u64);
	for (i = 0; i < t->nsteps; i++)
		if (i == 0 || ids[i] != ids[n - 1])
			ids[n++] = ids[i];
	for (locked = 0; locked < n; locked++) {
		ret = obj_enter(cs, ids[locked], true, &objs[locked], err);
		if (ret)
			goto out_leave;
	}
	ret = objstore_txn_commit(rt, err);
	if (!ret)
		for (i = 0; i < n; i++)
			after_change(cs, objs[i], pred_all, 0, 0);
out_leave:
	while (locked)
		obj_leave(cs, objs[--locked]);
out_free:
	objstore_txn_free(rt);
	free(objs);
	free(ids);
	return ret;
}

/* --- records: the cache across a clean close ---------------------------- */

static void put64(unsigned char *b, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *b)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static void put32(unsigned char *b, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

/* Bytes of the piece @idx of an object of @size bytes. */
static uint32_t piece_len(const struct cache_store *cs, uint64_t size,
			  uint64_t idx)
{
	uint64_t start = idx * cs->piece;

	if (start >= size)
		return 0;
	return size - start < cs->piece ? (uint32_t)(size - start) : cs->piece;
}

/*
 * Take in the record of local object @id: its pieces join the index
 * unchecked. 1 if taken, 0 if there is no valid record (the caller removes
 * the object), or a negative errno.
 */
static int record_load(struct cache_store *cs, uint64_t id,
		       unsigned char *buf)
{
	uint64_t size, nbits, idx;
	struct cobj *o;
	ssize_t n;

	n = objstore_getattr(cs->local, id, REC_ATTR, buf, OBJSTORE_ATTR_MAX,
			     NULL);
	if (n == -ENODATA || (n >= 0 && n < (ssize_t)REC_HEAD))
		return 0;
	if (n < 0)
		return (int)n;
	size = get64(buf + 24);
	nbits = get32(buf + 44);
	if (memcmp(buf, REC_MAGIC, 4) || get32(buf + 4) != cs->piece ||
	    memcmp(buf + 8, cs->remote_uuid, 16) ||
	    (size_t)n < REC_HEAD + (nbits + 7) / 8 ||
	    nbits > (size + cs->piece - 1) / cs->piece)
		return 0;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->id = id;
	pthread_rwlock_init(&o->rw, NULL);
	o->local_exists = true;
	o->have_version = true;
	o->size = size;
	o->mtime.tv_sec = (time_t)get64(buf + 32);
	o->mtime.tv_nsec = (long)get32(buf + 40);
	pthread_mutex_lock(&cs->lock);
	o->hnext = cs->ohash[hash_of(cs, id, 0)];
	cs->ohash[hash_of(cs, id, 0)] = o;
	for (idx = 0; idx < nbits; idx++) {
		struct cpiece *p;

		if (!(buf[REC_HEAD + idx / 8] & (1u << (idx % 8))))
			continue;
		p = calloc(1, sizeof(*p));
		if (!p) {
			drop_pieces(cs, o, pred_all, 0, 0);
			obj_free_locked(cs, o);
			pthread_mutex_unlock(&cs->lock);
			return -ENOMEM;
		}
		p->id = id;
		p->idx = idx;
		p->len = piece_len(cs, size, idx);
		piece_link(cs, o, p);
		lru_push(cs, p);
	}
	o->checked = o->npieces == 0;
	pthread_mutex_unlock(&cs->lock);
	return 1;
}

/* At open: take in every record and delete it; remove everything else. */
static int records_load(struct cache_store *cs, struct mixfs_err *err)
{
	unsigned char *buf = malloc(OBJSTORE_ATTR_MAX);
	uint64_t cursor = 0, ids[256];
	size_t n, i;
	int ret = 0;

	if (!buf)
		return mixfs_err_set(err, -ENOMEM, "cache: out of memory");
	while (!ret) {
		ret = objstore_list(cs->local, &cursor, ids, 256, &n, err);
		if (ret || n == 0)
			break;
		for (i = 0; i < n && !ret; i++) {
			ret = record_load(cs, ids[i], buf);
			if (ret == 1)
				ret = objstore_rmattr(cs->local, ids[i],
						      REC_ATTR, err);
			else if (ret == 0)
				ret = objstore_remove(cs->local, ids[i], err);
			if (ret)
				mixfs_err_prefix(err, ret,
					"cache: local object %llu",
					(unsigned long long)ids[i]);
		}
	}
	free(buf);
	if (ret)
		return ret;
	pthread_mutex_lock(&cs->lock);
	make_room(cs, 0, 0);		/* max= may be smaller than last time */
	pthread_mutex_unlock(&cs->lock);
	/* A deleted record must stay deleted before anything changes. */
	return objstore_sync(cs->local, err);
}

/* At close: write @o's record, or remove its local object if that fails
 * or its pieces cannot all be described. Caller holds cs->lock (no other
 * calls run at close). */
static void record_save(struct cache_store *cs, struct cobj *o,
			unsigned char *buf, struct timespec *newest)
{
	uint64_t nbits = (o->size + cs->piece - 1) / cs->piece;
	uint64_t maxbits = (OBJSTORE_ATTR_MAX - REC_HEAD) * 8;
	struct cpiece *p;
	bool all = true;
	int ret;

	if (nbits > maxbits)
		nbits = maxbits;
	memset(buf, 0, REC_HEAD + (nbits + 7) / 8);
	memcpy(buf, REC_MAGIC, 4);
	put32(buf + 4, cs->piece);
	memcpy(buf + 8, cs->remote_uuid, 16);
	put64(buf + 24, o->size);
	put64(buf + 32, (uint64_t)o->mtime.tv_sec);
	put32(buf + 40, (uint32_t)o->mtime.tv_nsec);
	put32(buf + 44, (uint32_t)nbits);
	for (p = o->pieces; p; p = p->onext) {
		if (p->idx >= nbits || p->len != piece_len(cs, o->size, p->idx)) {
			all = false;
			break;
		}
		buf[REC_HEAD + p->idx / 8] |= (unsigned char)(1u << (p->idx % 8));
	}
	ret = all ? objstore_setattr(cs->local, o->id, REC_ATTR, buf,
				     REC_HEAD + (nbits + 7) / 8, NULL) : -E2BIG;
	if (ret) {
		objstore_remove(cs->local, o->id, NULL);
		return;
	}
	if (o->mtime.tv_sec > newest->tv_sec ||
	    (o->mtime.tv_sec == newest->tv_sec &&
	     o->mtime.tv_nsec > newest->tv_nsec))
		*newest = o->mtime;
}

/* Wait until the wall clock is 20 ms past @newest (at most 20 ms). */
static void wait_past(const struct timespec *newest)
{
	struct timespec now, ts = { 0, 0 };
	int64_t ahead;

	clock_gettime(CLOCK_REALTIME, &now);
	ahead = ((int64_t)newest->tv_sec - now.tv_sec) * 1000000000 +
		(newest->tv_nsec - now.tv_nsec) + 20000000;
	if (ahead <= 0)
		return;
	if (ahead > 20000000)
		ahead = 20000000;
	ts.tv_nsec = (long)ahead;
	nanosleep(&ts, NULL);
}

/* At close: a record for every object with pieces whose data matches the
 * remote's (all of them, at a clean close). */
static void records_save(struct cache_store *cs)
{
	unsigned char *buf = malloc(OBJSTORE_ATTR_MAX);
	struct timespec newest = { 0, 0 };
	size_t b;

	if (!buf || objstore_sync(cs->local, NULL))
		goto out_free;
	for (b = 0; b < cs->nbuckets; b++) {
		struct cobj *o;

		for (o = cs->ohash[b]; o; o = o->hnext) {
			struct objstore_stat st;

			if (!o->npieces)
				continue;
			if (o->stray) {
				/* Bytes no record would describe: next open
				 * must not find them uncounted. */
				objstore_remove(cs->local, o->id, NULL);
				continue;
			}
			if (!o->have_version) {
				if (objstore_stat(cs->remote, o->id, &st,
						  NULL)) {
					objstore_remove(cs->local, o->id, NULL);
					continue;
				}
				o->size = st.size;
				o->mtime = st.mtime;
			}
			record_save(cs, o, buf, &newest);
		}
	}
	objstore_sync(cs->local, NULL);
	wait_past(&newest);
out_free:
	free(buf);
}

/* --- opening and closing ------------------------------------------------ */

/*
 * Split SPEC (up to the first ':' outside brackets) from the remote URI
 * and read its terms. *@local is a new string (caller frees).
 */
static int parse_spec(struct cache_store *cs, const char *rest, char **local,
		      const char **remote, struct mixfs_err *err)
{
	bool have_max = false, have_piece = false, have_margin = false;
	const char *p = rest;

	*local = NULL;
	for (;;) {
		const char *term = p, *eq;
		size_t klen;

		while (*p && *p != ',' && *p != ':' && *p != '[')
			p++;
		eq = memchr(term, '=', (size_t)(p - term));
		if (!eq)
			goto out_bad_term;
		klen = (size_t)(eq - term);
		if (klen == 5 && !memcmp(term, "local", 5)) {
			const char *open = p;
			int depth = 0;

			if (*local || eq + 1 != p || *p != '[')
				goto out_bad_term;
			do {
				depth += *p == '[';
				depth -= *p == ']';
				p++;
			} while (*p && depth);
			if (depth || p - open < 3)
				return mixfs_err_set(err, -EINVAL,
					"cache: local=[...] in 'cache:%s' is "
					"unclosed or empty", rest);
			*local = strndup(open + 1, (size_t)(p - open - 2));
			if (!*local)
				return -ENOMEM;
		} else {
			char val[32];
			uint64_t v;
			size_t vlen = (size_t)(p - eq - 1);

			if (*p == '[' || vlen == 0 || vlen >= sizeof(val))
				goto out_bad_term;
			memcpy(val, eq + 1, vlen);
			val[vlen] = '\0';
			if (objstore_parse_size(val, &v))
				goto out_bad_term;
			if (klen == 3 && !memcmp(term, "max", 3) && !have_max &&
			    v > 0) {
				cs->max = v;
				have_max = true;
			} else if (klen == 5 && !memcmp(term, "piece", 5) &&
				   !have_piece && v >= PIECE_MIN &&
				   v <= PIECE_MAX && !(v & (v - 1))) {
				cs->piece = (uint32_t)v;
				have_piece = true;
			} else if (klen == 6 && !memcmp(term, "margin", 6) &&
				   !have_margin) {
				cs->margin = v;
				have_margin = true;
			} else {
				goto out_bad_term;
			}
		}
		if (*p == ':')
			break;
		if (*p != ',')
			goto out_bad_term;
		p++;
	}
	if (!*local || !have_max)
		return mixfs_err_set(err, -EINVAL,
			"cache: 'cache:%s' needs local=[URI] and max=SIZE "
			"(write cache:local=[dir:PATH],max=SIZE:REMOTE-URI)",
			rest);
	if (!p[1])
		return mixfs_err_set(err, -EINVAL,
			"cache: no remote URI after the spec in 'cache:%s'",
			rest);
	if (!have_piece)
		cs->piece = OBJSTORE_CACHE_PIECE;
	if (!have_margin)
		cs->margin = UINT64_MAX;	/* from the capacity, at open */
	*remote = p + 1;
	return 0;

out_bad_term:
	return mixfs_err_set(err, -EINVAL,
		"cache: bad term at '%.40s' in 'cache:%s' (terms: "
		"local=[URI], max=SIZE, piece=SIZE, margin=SIZE; the remote URI "
		"follows the first ':')", p, rest);
}

static void index_free(struct cache_store *cs)
{
	size_t b;

	for (b = 0; cs->phash && b < cs->nbuckets; b++) {
		struct cpiece *p = cs->phash[b], *next;

		for (; p; p = next) {
			next = p->hnext;
			free(p);
		}
	}
	for (b = 0; cs->ohash && b < cs->nbuckets; b++) {
		struct cobj *o = cs->ohash[b], *next;

		for (; o; o = next) {
			next = o->hnext;
			pthread_rwlock_destroy(&o->rw);
			free(o);
		}
	}
	free(cs->phash);
	free(cs->ohash);
}

static int cache_open(const char *rest, unsigned flags, struct objstore **out,
		      struct mixfs_err *err)
{
	struct objstore_statfs sf;
	struct objstore_info info;
	struct cache_store *cs;
	const char *remote = NULL;
	char *local = NULL;
	uint64_t want;
	int ret;

	cs = calloc(1, sizeof(*cs));
	if (!cs)
		return -ENOMEM;
	ret = parse_spec(cs, rest, &local, &remote, err);
	if (ret)
		goto out_free;
	/* One bucket per piece the bound can hold, within reason. */
	want = cs->max / cs->piece;
	cs->nbuckets = 256;
	while (cs->nbuckets < want && cs->nbuckets < (1u << 20))
		cs->nbuckets <<= 1;
	cs->phash = calloc(cs->nbuckets, sizeof(*cs->phash));
	cs->ohash = calloc(cs->nbuckets, sizeof(*cs->ohash));
	if (!cs->phash || !cs->ohash) {
		ret = -ENOMEM;
		goto out_free;
	}
	ret = objstore_open(remote, flags, &cs->remote, err);
	if (ret) {
		mixfs_err_prefix(err, ret, "cache: remote store");
		goto out_free;
	}
	ret = objstore_open(local, OBJSTORE_OPEN_CREATE, &cs->local, err);
	if (ret) {
		mixfs_err_prefix(err, ret, "cache: local store");
		goto out_close_remote;
	}
	if (cs->margin == UINT64_MAX) {
		ret = objstore_statfs(cs->local, &sf, err);
		if (ret)
			goto out_close_local;
		cs->margin = sf.capacity / 20;
		if (cs->margin > (UINT64_C(1) << 30))
			cs->margin = UINT64_C(1) << 30;
	}
	pthread_mutex_init(&cs->lock, NULL);
	cs->local_ok = true;
	cs->st.max = cs->max;
	cs->st.piece = cs->piece;
	objstore_info(cs->remote, &info);
	memcpy(cs->remote_uuid, info.uuid, 16);
	ret = records_load(cs, err);
	if (ret) {
		mixfs_err_prefix(err, ret, "cache: taking in the local store");
		goto out_destroy;
	}
	cs->base.ops = &objstore_cache_ops;
	cs->base.caps = info.caps;
	memcpy(cs->base.uuid, info.uuid, sizeof(cs->base.uuid));
	cs->base.format_version = info.format_version;
	free(local);
	*out = &cs->base;
	return 0;

out_destroy:
	pthread_mutex_destroy(&cs->lock);
out_close_local:
	objstore_close(cs->local);
out_close_remote:
	objstore_close(cs->remote);
out_free:
	index_free(cs);
	free(local);
	free(cs);
	return ret;
}

static int cache_close(struct objstore *s)
{
	struct cache_store *cs = to_cache(s);
	int ret, lret;

	pthread_mutex_lock(&cs->lock);
	records_save(cs);
	pthread_mutex_unlock(&cs->lock);
	ret = objstore_close(cs->remote);
	lret = objstore_close(cs->local);
	index_free(cs);
	pthread_mutex_destroy(&cs->lock);
	free(cs);
	/* The remote's errors matter; the local store is only a copy. */
	(void)lret;
	return ret;
}

/* --- the test-facing API ------------------------------------------------ */

bool objstore_is_cache(const struct objstore *s)
{
	return s && s->ops == &objstore_cache_ops;
}

int objstore_cache_set_warn(struct objstore *s, objstore_cache_warn_fn fn,
			    void *arg)
{
	struct cache_store *cs;

	if (!objstore_is_cache(s))
		return -EINVAL;
	cs = to_cache(s);
	pthread_mutex_lock(&cs->lock);
	cs->warn = fn;
	cs->warn_arg = arg;
	pthread_mutex_unlock(&cs->lock);
	return 0;
}

int objstore_cache_stats(struct objstore *s, struct objstore_cache_stats *st)
{
	struct cache_store *cs;

	if (!objstore_is_cache(s))
		return -EINVAL;
	cs = to_cache(s);
	pthread_mutex_lock(&cs->lock);
	*st = cs->st;
	st->local_errors = __atomic_load_n(&cs->st.local_errors,
					   __ATOMIC_RELAXED);
	st->used = cs->used;
	pthread_mutex_unlock(&cs->lock);
	return 0;
}

struct objstore *objstore_cache_local(struct objstore *s)
{
	return objstore_is_cache(s) ? to_cache(s)->local : NULL;
}

struct objstore *objstore_cache_remote(struct objstore *s)
{
	return objstore_is_cache(s) ? to_cache(s)->remote : NULL;
}

const struct objstore_ops objstore_cache_ops = {
	.version = 1,
	.scheme = "cache",
	.open = cache_open,
	.close = cache_close,
	.create = cache_create,
	.create_fresh = cache_create_fresh,
	.remove = cache_remove,
	.read = cache_read,
	.write = cache_write,
	.truncate = cache_truncate,
	.punch = cache_punch,
	.seek = cache_seek,
	.stat = cache_stat,
	.list = cache_list,
	.getattr = cache_getattr,
	.setattr = cache_setattr,
	.rmattr = cache_rmattr,
	.listattr = cache_listattr,
	.statfs = cache_statfs,
	.sync = cache_sync,
	.txn_commit = cache_txn_commit,
};
