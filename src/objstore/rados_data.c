/*
 * rados_data.c - an object's bytes in the rados: backend: its pieces in
 * RADOS, the record in its head's omap, and the cache of those records.
 *
 * An object's data is cut into pieces of a fixed size (see rados.c for why
 * the default is what it is); piece 0 lives in the head object itself, so
 * an object that fits in one piece costs one RADOS object, and a write to
 * it is one RADOS write op carrying the data, the new record and the new
 * piece map together: atomic, like every single-object op in RADOS. A call
 * touching several pieces sends one op per piece, all at once through
 * librados's aio calls, and waits for them all; those ops are not atomic
 * together, so a failure may leave some pieces written (the record then
 * stays as it was, or becomes the new one, but a read may see part of the
 * new data). rados.c documents this where the capabilities are set.
 *
 * Space is counted in granules (a 64th of a piece): a write allocates the
 * granules it touches, a punch frees the ones it covers whole, and a
 * granule not allocated holds only zeros in RADOS (it was never written,
 * or was zeroed or truncated away when it was freed), so a piece whose map
 * becomes empty is removed.
 *
 * It deliberately does not cache data: the OSDs have their own caches, and
 * a cache here would need invalidation rules this backend does not need.
 */
#include "objstore/rados_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- names and encodings ------------------------------------------------- */

void rs_head_oid(char *buf, uint64_t id)
{
	snprintf(buf, RADOS_OID_MAX, "o.%016" PRIx64, id);
}

void rs_piece_oid(char *buf, uint64_t id, uint64_t idx)
{
	if (idx == 0)
		rs_head_oid(buf, id);
	else
		snprintf(buf, RADOS_OID_MAX, "o.%016" PRIx64 ".%" PRIx64, id, idx);
}

static void piece_key(char *buf, uint64_t idx)
{
	snprintf(buf, 24, "p.%016" PRIx64, idx);
}

void rs_put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t rs_get64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void rs_meta_encode(unsigned char *buf, const struct rs_obj *o)
{
	rs_put64(buf, o->size);
	rs_put64(buf + 8, (uint64_t)o->mtime.tv_sec);
	buf[16] = (unsigned char)o->mtime.tv_nsec;
	buf[17] = (unsigned char)(o->mtime.tv_nsec >> 8);
	buf[18] = (unsigned char)(o->mtime.tv_nsec >> 16);
	buf[19] = (unsigned char)(o->mtime.tv_nsec >> 24);
}

static void meta_decode(const unsigned char *buf, struct rs_obj *o)
{
	o->size = rs_get64(buf);
	o->mtime.tv_sec = (time_t)rs_get64(buf + 8);
	o->mtime.tv_nsec = (long)((uint32_t)buf[16] | (uint32_t)buf[17] << 8 |
				  (uint32_t)buf[18] << 16 |
				  (uint32_t)buf[19] << 24);
}

int rs_fail(struct mixfs_err *err, int ret, const char *what, uint64_t id)
{
	if (ret == -ENOENT && id)
		return mixfs_err_set(err, ret, "no object %" PRIu64, id);
	if (ret == -ETIMEDOUT)
		return mixfs_err_set(err, ret,
			"%s object %" PRIu64 ": the cluster did not answer in time",
			what, id);
	return mixfs_err_set(err, ret, "%s object %" PRIu64 ": %s", what, id,
			     strerror(-ret));
}

/* --- records ------------------------------------------------------------- */

struct rs_obj *rs_obj_new(uint64_t id)
{
	struct rs_obj *o = calloc(1, sizeof(*o));

	if (o) {
		o->id = id;
		clock_gettime(CLOCK_REALTIME, &o->mtime);
	}
	return o;
}

void rs_obj_free(struct rs_obj *o)
{
	if (o) {
		free(o->pieces);
		free(o);
	}
}

uint64_t rs_obj_allocated(const struct rs_store *r,
			  const struct rs_obj *o)
{
	uint64_t granules = 0;
	size_t i;

	for (i = 0; i < o->npieces; i++)
		granules += (uint64_t)__builtin_popcountll(o->pieces[i].bits);
	return granules << r->granule_shift;
}

static int pieces_reserve(struct rs_obj *o, size_t more)
{
	size_t cap = o->cap ? o->cap : 4;
	struct rs_piece *p;

	if (o->npieces + more <= o->cap)
		return 0;
	while (cap < o->npieces + more)
		cap *= 2;
	p = realloc(o->pieces, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	o->pieces = p;
	o->cap = cap;
	return 0;
}

/* Index of the first piece with idx >= @idx. */
static size_t piece_lower(const struct rs_obj *o, uint64_t idx)
{
	size_t lo = 0, hi = o->npieces;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->pieces[mid].idx < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint64_t piece_bits(const struct rs_obj *o, uint64_t idx)
{
	size_t i = piece_lower(o, idx);

	return i < o->npieces && o->pieces[i].idx == idx ? o->pieces[i].bits : 0;
}

/* Set piece @idx's map to @bits (0 drops it); room reserved by the caller. */
static void piece_set(struct rs_obj *o, uint64_t idx, uint64_t bits)
{
	size_t i = piece_lower(o, idx);
	bool present = i < o->npieces && o->pieces[i].idx == idx;

	if (present && bits) {
		o->pieces[i].bits = bits;
	} else if (present) {
		memmove(&o->pieces[i], &o->pieces[i + 1],
			(o->npieces - i - 1) * sizeof(o->pieces[0]));
		o->npieces--;
	} else if (bits) {
		memmove(&o->pieces[i + 1], &o->pieces[i],
			(o->npieces - i) * sizeof(o->pieces[0]));
		o->pieces[i] = (struct rs_piece){ idx, bits };
		o->npieces++;
	}
}

/*
 * Bytes of piece 0 a reader wants along with the record, in the same op:
 * a read of an object whose record is not cached then costs one round trip,
 * not two. @got is SIZE_MAX when the record came from the cache and nothing
 * was read.
 */
struct head_read {
	uint64_t off;
	size_t len;
	char *buf;
	size_t got;
	int prval;
};

/* Read @id's record and piece map from its head (and @hr's bytes). */
static int obj_load(struct rs_store *r, uint64_t id, struct head_read *hr,
		    struct rs_obj **out, struct mixfs_err *err)
{
	static const char *const mkey[] = { "m" };
	static const size_t mlen[] = { 1 };
	struct rs_obj *o = rs_obj_new(id);
	char oid[RADOS_OID_MAX], after[24] = "";
	unsigned char more = 1;
	bool first = true;
	int ret = 0;

	if (!o)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	rs_head_oid(oid, id);
	while (more && !ret) {
		rados_read_op_t op = rados_create_read_op();
		rados_omap_iter_t mit = NULL, pit = NULL;
		int mrv = 0, prv = 0;
		char *k, *v;
		size_t kl, vl;

		if (!op) {
			ret = -ENOMEM;
			break;
		}
		if (first)
			rados_read_op_omap_get_vals_by_keys2(op, mkey, 1, mlen,
							     &mit, &mrv);
		if (first && hr)
			rados_read_op_read(op, hr->off, hr->len, hr->buf, &hr->got,
					   &hr->prval);
		rados_read_op_omap_get_vals2(op, after, "p.", 4096, &pit, &more,
					     &prv);
		ret = rados_read_op_operate(op, r->io, oid, 0);
		if (!ret)
			ret = mrv < 0 ? mrv : prv;
		if (!ret && first && hr && hr->prval < 0)
			ret = hr->prval;
		if (!ret && first) {
			ret = -EUCLEAN;
			while (!rados_omap_get_next2(mit, &k, &v, &kl, &vl) && k)
				if (vl == RADOS_META_LEN) {
					meta_decode((unsigned char *)v, o);
					ret = 0;
				}
		}
		while (!ret && !rados_omap_get_next2(pit, &k, &v, &kl, &vl) && k) {
			if (kl != 18 || vl != 8) {
				ret = -EUCLEAN;
				break;
			}
			if (pieces_reserve(o, 1)) {
				ret = -ENOMEM;
				break;
			}
			o->pieces[o->npieces++] = (struct rs_piece){
				strtoull(k + 2, NULL, 16),
				rs_get64((unsigned char *)v) };
			memcpy(after, k, kl);
			after[kl] = '\0';
		}
		if (mit)
			rados_omap_get_end(mit);
		if (pit)
			rados_omap_get_end(pit);
		rados_release_read_op(op);
		first = false;
	}
	if (ret) {
		rs_obj_free(o);
		if (ret == -EUCLEAN)
			return mixfs_err_set(err, ret,
				"object %" PRIu64 ": its record in %s is missing "
				"or malformed", id, oid);
		return rs_fail(err, ret, "reading the record of", id);
	}
	*out = o;
	return 0;
}

/* --- the cache ----------------------------------------------------------- */

static struct rs_obj **cache_find(struct rs_stripe *st, uint64_t id)
{
	struct rs_obj **pp;

	for (pp = &st->cache; *pp; pp = &(*pp)->next)
		if ((*pp)->id == id)
			return pp;
	return NULL;
}

/* Put @o first in its stripe, dropping the least recent beyond the cap. */
static void cache_insert(struct rs_stripe *st, struct rs_obj *o)
{
	struct rs_obj **pp;

	o->next = st->cache;
	st->cache = o;
	if (++st->ncache <= RADOS_CACHE_PER_STRIPE)
		return;
	for (pp = &st->cache; (*pp)->next; pp = &(*pp)->next)
		;
	rs_obj_free(*pp);
	*pp = NULL;
	st->ncache--;
}

static int obj_get(struct rs_store *r, uint64_t id, bool exclusive,
		   struct head_read *hr, struct rs_obj **out,
		   struct mixfs_err *err)
{
	struct rs_stripe *st = rs_stripe_of(r, id);
	struct rs_obj **pp, *o;
	int ret;

	if (!exclusive)
		pthread_mutex_lock(&st->mu);
	pp = cache_find(st, id);
	if (pp) {
		o = *pp;
		*pp = o->next;		/* move to the front */
		o->next = st->cache;
		st->cache = o;
	}
	if (!exclusive)
		pthread_mutex_unlock(&st->mu);
	if (pp) {
		if (hr)
			hr->got = SIZE_MAX;
		*out = o;
		return 0;
	}
	ret = obj_load(r, id, hr, &o, err);
	if (ret)
		return ret;
	if (!exclusive)
		pthread_mutex_lock(&st->mu);
	pp = cache_find(st, id);	/* another reader may have loaded it */
	if (pp) {
		rs_obj_free(o);
		o = *pp;
	} else {
		cache_insert(st, o);
	}
	if (!exclusive)
		pthread_mutex_unlock(&st->mu);
	*out = o;
	return 0;
}

int rs_obj_get(struct rs_store *r, uint64_t id, bool exclusive,
	       struct rs_obj **out, struct mixfs_err *err)
{
	return obj_get(r, id, exclusive, NULL, out, err);
}

int rs_obj_add(struct rs_store *r, struct rs_obj *o)
{
	struct rs_stripe *st = rs_stripe_of(r, o->id);

	rs_obj_forget(r, o->id);
	cache_insert(st, o);
	return 0;
}

void rs_obj_forget(struct rs_store *r, uint64_t id)
{
	struct rs_stripe *st = rs_stripe_of(r, id);
	struct rs_obj **pp = cache_find(st, id), *o;

	if (!pp)
		return;
	o = *pp;
	*pp = o->next;
	st->ncache--;
	rs_obj_free(o);
}

void rs_cache_release(struct rs_store *r)
{
	size_t i;

	for (i = 0; i < RADOS_STRIPES; i++) {
		struct rs_obj *o = r->stripes[i].cache, *next;

		for (; o; o = next) {
			next = o->next;
			rs_obj_free(o);
		}
		r->stripes[i].cache = NULL;
		r->stripes[i].ncache = 0;
	}
}

/*
 * What a reader needs of a record, copied out under the stripe's @mu: with
 * only the shared lock held, another reader may evict the cached record at
 * any moment.
 */
struct obj_view {
	uint64_t size, allocated;
	struct timespec mtime;
	struct rs_obj range;		/* pieces [first, last] only */
};

static int obj_view(struct rs_store *r, uint64_t id, uint64_t first,
		    uint64_t last, struct head_read *hr, struct obj_view *v,
		    struct mixfs_err *err)
{
	struct rs_stripe *st = rs_stripe_of(r, id);
	struct rs_obj *o, **pp;
	size_t i, j;
	int ret;

	memset(v, 0, sizeof(*v));
	ret = obj_get(r, id, false, hr, &o, err);
	if (ret)
		return ret;
	pthread_mutex_lock(&st->mu);
	/* The record may have been evicted (and freed) since: take it again. */
	pp = cache_find(st, id);
	if (!pp || *pp != o) {
		pthread_mutex_unlock(&st->mu);
		return obj_view(r, id, first, last, hr, v, err);
	}
	v->size = o->size;
	v->mtime = o->mtime;
	v->allocated = rs_obj_allocated(r, o);
	i = piece_lower(o, first);
	for (j = i; j < o->npieces && o->pieces[j].idx <= last; j++)
		;
	if (j > i && pieces_reserve(&v->range, j - i)) {
		pthread_mutex_unlock(&st->mu);
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	}
	if (j > i)
		memcpy(v->range.pieces, &o->pieces[i], (j - i) * sizeof(*o->pieces));
	v->range.npieces = j - i;
	pthread_mutex_unlock(&st->mu);
	return 0;
}

/* --- space --------------------------------------------------------------- */

int rs_space_take(struct rs_store *r, uint64_t bytes,
		  struct mixfs_err *err)
{
	int ret = 0;

	if (!bytes)
		return 0;
	pthread_mutex_lock(&r->mu);
	if (bytes > r->capacity || r->used > r->capacity - bytes)
		ret = mixfs_err_set(err, -ENOSPC,
			"rados store full: %" PRIu64 " of %" PRIu64 " bytes used, "
			"%" PRIu64 " more needed", r->used, r->capacity, bytes);
	else
		r->used += bytes;
	pthread_mutex_unlock(&r->mu);
	return ret;
}

void rs_space_give(struct rs_store *r, uint64_t bytes)
{
	pthread_mutex_lock(&r->mu);
	r->used = bytes > r->used ? 0 : r->used - bytes;
	pthread_mutex_unlock(&r->mu);
}

void rs_counts_doubt(struct rs_store *r)
{
	pthread_mutex_lock(&r->mu);
	r->counts_doubtful = true;
	pthread_mutex_unlock(&r->mu);
}

/* --- ops in flight ------------------------------------------------------- */

/*
 * A batch of RADOS ops sent at once and waited for together. A read slot
 * zero-fills what the piece did not hold (a missing piece, or one shorter
 * than the range).
 */
struct slot {
	rados_completion_t c;
	rados_write_op_t w;
	rados_read_op_t rd;
	char *dst;
	size_t want, got;
	int prval;
	bool enoent_ok;
	uint64_t idx;
};

struct batch {
	struct rs_store *r;
	uint64_t id;
	const char *what;
	struct slot s[RADOS_INFLIGHT];
	size_t n;
	int ret;
	struct mixfs_err *err;
};

static int batch_wait(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		struct slot *sl = &b->s[i];
		int ret;

		rados_aio_wait_for_complete(sl->c);
		ret = rados_aio_get_return_value(sl->c);
		if (sl->rd && !ret)
			ret = sl->prval;
		if (sl->rd && ret == -ENOENT && sl->enoent_ok) {
			ret = 0;
			sl->got = 0;
		}
		if (ret < 0 && !b->ret) {
			b->ret = ret;
			if (sl->idx)
				mixfs_err_set(b->err, ret,
					"%s object %" PRIu64 " (piece %" PRIu64
					"): %s", b->what, b->id, sl->idx,
					ret == -ETIMEDOUT ?
					"the cluster did not answer in time" :
					strerror(-ret));
			else
				rs_fail(b->err, ret, b->what, b->id);
		}
		if (sl->rd && ret >= 0 && sl->got < sl->want)
			memset(sl->dst + sl->got, 0, sl->want - sl->got);
		rados_aio_release(sl->c);
		if (sl->w)
			rados_release_write_op(sl->w);
		if (sl->rd)
			rados_release_read_op(sl->rd);
	}
	b->n = 0;
	return b->ret;
}

static struct slot *batch_slot(struct batch *b)
{
	struct slot *sl;

	if (b->n == RADOS_INFLIGHT && batch_wait(b))
		return NULL;
	sl = &b->s[b->n];
	memset(sl, 0, sizeof(*sl));
	if (rados_aio_create_completion2(NULL, NULL, &sl->c))
		return NULL;
	return sl;
}

/* Send write op @w (consumed) on piece @idx of the batch's object. */
static int batch_write(struct batch *b, uint64_t idx, rados_write_op_t w)
{
	char oid[RADOS_OID_MAX];
	struct slot *sl = batch_slot(b);
	int ret;

	if (!sl) {
		rados_release_write_op(w);
		return b->ret ? b->ret :
			mixfs_err_set(b->err, -ENOMEM, "out of memory");
	}
	rs_piece_oid(oid, b->id, idx);
	sl->w = w;
	sl->idx = idx;
	ret = rados_aio_write_op_operate(w, b->r->io, sl->c, oid, NULL, 0);
	if (ret) {
		rados_aio_release(sl->c);
		rados_release_write_op(w);
		return rs_fail(b->err, ret, b->what, b->id);
	}
	b->n++;
	return 0;
}

static int batch_read(struct batch *b, uint64_t idx, uint64_t off, char *dst,
		      size_t len)
{
	char oid[RADOS_OID_MAX];
	struct slot *sl = batch_slot(b);
	int ret;

	if (!sl || !(sl->rd = rados_create_read_op())) {
		if (sl)
			rados_aio_release(sl->c);
		return b->ret ? b->ret :
			mixfs_err_set(b->err, -ENOMEM, "out of memory");
	}
	rs_piece_oid(oid, b->id, idx);
	sl->dst = dst;
	sl->want = len;
	sl->idx = idx;
	sl->enoent_ok = idx != 0;
	rados_read_op_read(sl->rd, off, len, dst, &sl->got, &sl->prval);
	ret = rados_aio_read_op_operate(sl->rd, b->r->io, sl->c, oid, 0);
	if (ret) {
		rados_aio_release(sl->c);
		rados_release_read_op(sl->rd);
		return rs_fail(b->err, ret, b->what, b->id);
	}
	b->n++;
	return 0;
}

/* Wait for what is in flight, keeping the first error. */
static int batch_end(struct batch *b, int ret)
{
	int wret = batch_wait(b);

	return ret ? ret : wret;
}

/* --- the head's record in a write op -------------------------------------- */

/*
 * Add to @w the record of @o and the map entries of @changed pieces
 * (removed when their map is now empty). Key and value buffers live in
 * @keys/@vals, which must outlive the op's completion.
 */
struct head_update {
	unsigned char meta[RADOS_META_LEN];
	char (*keys)[24];
	unsigned char (*vals)[8];
	const char **kp, **vp;
	size_t *kl, *vl;
	const char **rm;
	size_t *rml;
	size_t nset, nrm, cap;
};

static int head_update_init(struct head_update *h, size_t pieces)
{
	size_t n = pieces + 1;

	memset(h, 0, sizeof(*h));
	h->cap = n;
	h->keys = calloc(n, sizeof(*h->keys));
	h->vals = calloc(n, sizeof(*h->vals));
	h->kp = calloc(n, sizeof(*h->kp));
	h->vp = calloc(n, sizeof(*h->vp));
	h->kl = calloc(n, sizeof(*h->kl));
	h->vl = calloc(n, sizeof(*h->vl));
	h->rm = calloc(n, sizeof(*h->rm));
	h->rml = calloc(n, sizeof(*h->rml));
	if (!h->keys || !h->vals || !h->kp || !h->vp || !h->kl || !h->vl ||
	    !h->rm || !h->rml)
		return -ENOMEM;
	return 0;
}

static void head_update_release(struct head_update *h)
{
	free(h->keys);
	free(h->vals);
	free(h->kp);
	free(h->vp);
	free(h->kl);
	free(h->vl);
	free(h->rm);
	free(h->rml);
}

static void head_update_piece(struct head_update *h, uint64_t idx,
			      uint64_t bits)
{
	size_t k = h->nset + h->nrm;	/* key storage slot */

	piece_key(h->keys[k], idx);
	if (bits) {
		rs_put64(h->vals[k], bits);
		h->kp[h->nset] = h->keys[k];
		h->kl[h->nset] = 18;
		h->vp[h->nset] = (const char *)h->vals[k];
		h->vl[h->nset] = 8;
		h->nset++;
	} else {
		h->rm[h->nrm] = h->keys[k];
		h->rml[h->nrm] = 18;
		h->nrm++;
	}
}

static void head_update_apply(struct head_update *h, rados_write_op_t w,
			      const struct rs_obj *o)
{
	size_t k = h->nset;

	rs_meta_encode(h->meta, o);
	h->kp[k] = "m";
	h->kl[k] = 1;
	h->vp[k] = (const char *)h->meta;
	h->vl[k] = RADOS_META_LEN;
	rados_write_op_assert_exists(w);
	rados_write_op_omap_set2(w, h->kp, h->vp, h->kl, h->vl, h->nset + 1);
	if (h->nrm)
		rados_write_op_omap_rm_keys2(w, h->rm, h->rml, h->nrm);
}

/* Granule mask of [@from, @to) within one piece (@to > @from, in bytes),
 * counting every granule touched. */
uint64_t rs_touched_mask(const struct rs_store *r, uint64_t from,
			 uint64_t to)
{
	unsigned g0 = (unsigned)(from >> r->granule_shift);
	unsigned g1 = (unsigned)((to - 1) >> r->granule_shift);

	return (g1 == 63 ? ~0ull : (1ull << (g1 + 1)) - 1) & ~((1ull << g0) - 1);
}

/* Granule mask of the granules [@from, @to) covers whole. */
static uint64_t covered_mask(const struct rs_store *r, uint64_t from,
			     uint64_t to)
{
	uint64_t g = 1ull << r->granule_shift;
	uint64_t a = (from + g - 1) >> r->granule_shift, b = to >> r->granule_shift;

	if (b <= a)
		return 0;
	return (b == 64 ? ~0ull : (1ull << b) - 1) & ~((1ull << a) - 1);
}

/* A working copy of @o's record and map, for a change to commit later. */
static int obj_copy(const struct rs_obj *o, struct rs_obj *c,
		    size_t more)
{
	*c = *o;
	c->pieces = NULL;
	c->cap = 0;
	c->npieces = 0;
	if (pieces_reserve(c, o->npieces + more))
		return -ENOMEM;
	if (o->npieces)
		memcpy(c->pieces, o->pieces, o->npieces * sizeof(*o->pieces));
	c->npieces = o->npieces;
	return 0;
}

/* Make the working copy @c the record of @o (after every op succeeded). */
static void obj_commit(struct rs_obj *o, struct rs_obj *c)
{
	free(o->pieces);
	o->pieces = c->pieces;
	o->npieces = c->npieces;
	o->cap = c->cap;
	o->size = c->size;
	o->mtime = c->mtime;
}

/*
 * After a change failed part way: the record in RADOS may be the old or
 * the new one, so forget the cached one and doubt the counters (the next
 * open recounts them).
 */
static int change_failed(struct rs_store *r, uint64_t id, int ret)
{
	rs_obj_forget(r, id);
	rs_counts_doubt(r);
	return ret;
}

/* --- calls --------------------------------------------------------------- */

int rs_stat(struct objstore *s, uint64_t id, struct objstore_stat *st,
	    struct mixfs_err *err)
{
	struct rs_store *r = rs_of(s);
	struct rs_stripe *sp = rs_stripe_of(r, id);
	struct obj_view v;
	int ret;

	pthread_rwlock_rdlock(&sp->lock);
	ret = obj_view(r, id, 1, 0, NULL, &v, err);
	pthread_rwlock_unlock(&sp->lock);
	if (ret)
		return ret;
	st->size = v.size;
	st->allocated = v.allocated;
	st->mtime = v.mtime;
	free(v.range.pieces);
	return 0;
}

ssize_t rs_read(struct objstore *s, uint64_t id, uint64_t off, void *buf,
		size_t len, struct mixfs_err *err)
{
	struct rs_store *r = rs_of(s);
	struct rs_stripe *sp = rs_stripe_of(r, id);
	struct batch b = { .r = r, .id = id, .what = "reading", .err = err };
	struct head_read hr = { 0 };
	uint64_t pos, end, first, last;
	char *dst = buf;
	struct obj_view v;
	int ret;

	pthread_rwlock_rdlock(&sp->lock);
	first = off >> r->piece_shift;
	last = len ? (off + len - 1) >> r->piece_shift : first;
	if (first == 0 && len) {
		hr.off = off;
		hr.len = (size_t)(r->piece - off) < len ?
			(size_t)(r->piece - off) : len;
		hr.buf = dst;
	}
	ret = obj_view(r, id, first, last, hr.buf ? &hr : NULL, &v, err);
	if (ret)
		goto out_unlock;
	if (off >= v.size || len == 0)
		goto out_free;
	if (len > v.size - off)
		len = (size_t)(v.size - off);
	end = off + len;
	for (pos = off; pos < end && !ret;) {
		uint64_t idx = pos >> r->piece_shift;
		uint64_t in = pos & (r->piece - 1);
		size_t n = (size_t)(r->piece - in < end - pos ?
				    r->piece - in : end - pos);

		if (idx == 0 && hr.buf && hr.got != SIZE_MAX) {
			/* Read with the record: zeros past what the head held. */
			if (hr.got < n)
				memset(dst + hr.got, 0, n - hr.got);
		} else if (piece_bits(&v.range, idx)) {
			ret = batch_read(&b, idx, in, dst + (pos - off), n);
		} else {
			memset(dst + (pos - off), 0, n);
		}
		pos += n;
	}
	ret = batch_end(&b, ret);
out_free:
	free(v.range.pieces);
out_unlock:
	pthread_rwlock_unlock(&sp->lock);
	return ret ? ret : (ssize_t)(off < v.size ? len : 0);
}

int rs_write(struct objstore *s, uint64_t id, uint64_t off,
	     const void *buf, size_t len, struct mixfs_err *err)
{
	struct rs_store *r = rs_of(s);
	struct rs_stripe *sp = rs_stripe_of(r, id);
	struct batch b = { .r = r, .id = id, .what = "writing", .err = err };
	const char *src = buf;
	uint64_t first, last, idx, fresh = 0, end = off + len;
	struct rs_obj *o, c = { 0 };
	struct head_update h = { 0 };
	rados_write_op_t head = NULL;
	int ret;

	pthread_rwlock_wrlock(&sp->lock);
	ret = rs_obj_get(r, id, true, &o, err);
	if (ret)
		goto out_unlock;
	first = off >> r->piece_shift;
	last = len ? (end - 1) >> r->piece_shift : first;
	if (len && last - first + 1 > SIZE_MAX / 64) {
		ret = mixfs_err_set(err, -EFBIG, "write of %zu bytes is too big",
				    len);
		goto out_unlock;
	}
	ret = -ENOMEM;
	if (obj_copy(o, &c, len ? (size_t)(last - first + 1) : 0) ||
	    head_update_init(&h, len ? (size_t)(last - first + 1) : 0) ||
	    !(head = rados_create_write_op()))
		goto out_nomem;
	/* The new map, and the space it takes, before anything is sent. */
	for (idx = first; len && idx <= last; idx++) {
		uint64_t ps = idx << r->piece_shift;
		uint64_t from = off > ps ? off - ps : 0;
		uint64_t to = end - ps < r->piece ? end - ps : r->piece;
		uint64_t old = piece_bits(&c, idx), bits = old |
			rs_touched_mask(r, from, to);

		fresh += (uint64_t)__builtin_popcountll(bits & ~old);
		if (bits != old) {
			piece_set(&c, idx, bits);
			head_update_piece(&h, idx, bits);
		}
	}
	ret = rs_space_take(r, fresh << r->granule_shift, err);
	if (ret)
		goto out_free;
	if (len && end > c.size)
		c.size = end;
	clock_gettime(CLOCK_REALTIME, &c.mtime);
	/* Piece 0's data goes in the head's op with the record. */
	if (len && first == 0) {
		size_t n = (size_t)(end < r->piece ? end : r->piece) - (size_t)off;

		rados_write_op_write(head, src, n, off);
	}
	head_update_apply(&h, head, &c);
	ret = batch_write(&b, 0, head);
	head = NULL;
	for (idx = first ? first : 1; len && idx <= last && !ret; idx++) {
		uint64_t ps = idx << r->piece_shift;
		uint64_t from = off > ps ? off - ps : 0;
		uint64_t to = end - ps < r->piece ? end - ps : r->piece;
		rados_write_op_t w = rados_create_write_op();

		if (!w) {
			ret = mixfs_err_set(err, -ENOMEM, "out of memory");
			break;
		}
		rados_write_op_write(w, src + (ps + from - off), (size_t)(to - from),
				     from);
		ret = batch_write(&b, idx, w);
	}
	ret = batch_end(&b, ret);
	if (ret) {
		rs_space_give(r, fresh << r->granule_shift);
		ret = change_failed(r, id, ret);
		goto out_free;
	}
	obj_commit(o, &c);
	c.pieces = NULL;
	goto out_free;
out_nomem:
	ret = mixfs_err_set(err, -ENOMEM, "out of memory");
out_free:
	if (head)
		rados_release_write_op(head);
	head_update_release(&h);
	free(c.pieces);
out_unlock:
	pthread_rwlock_unlock(&sp->lock);
	return ret;
}

/*
 * Drop or cut the pieces of @c (a working copy) for the byte range
 * [@from, @to): pieces covered whole are removed (the head is truncated to
 * zero instead), a piece covered in part has the range zeroed (@cut: or,
 * when the range runs to the end of the object, truncated) and its covered
 * granules freed. Ops on the head go into @head; the others are sent in @b.
 * Returns the bytes freed, or a negative errno.
 */
static int64_t cut_range(struct rs_store *r, struct rs_obj *c,
			 uint64_t from, uint64_t to, bool cut,
			 struct head_update *h, rados_write_op_t head,
			 struct batch *b)
{
	uint64_t freed = 0;
	size_t i = piece_lower(c, from >> r->piece_shift);
	int ret = 0;

	while (i < c->npieces && !ret) {
		struct rs_piece p = c->pieces[i];
		uint64_t ps = p.idx << r->piece_shift, pe = ps + r->piece;
		uint64_t a = from > ps ? from - ps : 0;
		uint64_t z = to < pe ? to - ps : r->piece;
		uint64_t bits = p.bits;
		rados_write_op_t w;

		if (ps >= to)
			break;
		if (a == 0 && z == r->piece)
			bits = 0;
		else
			bits &= ~covered_mask(r, a, z);
		if (cut && z == r->piece && bits)
			bits &= rs_touched_mask(r, 0, a);	/* a > 0 here */
		freed += (uint64_t)__builtin_popcountll(p.bits & ~bits);
		w = p.idx == 0 ? head : rados_create_write_op();
		if (!w)
			return mixfs_err_set(b->err, -ENOMEM, "out of memory");
		if (!bits && p.idx)
			rados_write_op_remove(w);
		else if (!bits)
			rados_write_op_truncate(w, 0);
		else if (cut && z == r->piece)
			rados_write_op_truncate(w, a);
		else
			rados_write_op_zero(w, a, z - a);
		if (p.idx)
			ret = batch_write(b, p.idx, w);
		if (bits != p.bits) {
			head_update_piece(h, p.idx, bits);
			piece_set(c, p.idx, bits);
		}
		if (bits)
			i++;
	}
	return ret ? ret : (int64_t)(freed << r->granule_shift);
}

/* Truncate and punch: cut [@from, @to) from @id and set its size. */
static int cut_object(struct objstore *s, uint64_t id, uint64_t from,
		      uint64_t to, bool truncate, uint64_t size,
		      struct mixfs_err *err)
{
	struct rs_store *r = rs_of(s);
	struct rs_stripe *sp = rs_stripe_of(r, id);
	struct batch b = { .r = r, .id = id, .err = err,
			   .what = truncate ? "truncating" : "punching" };
	struct rs_obj *o, c = { 0 };
	struct head_update h = { 0 };
	rados_write_op_t head = NULL;
	int64_t freed = 0;
	int ret;

	pthread_rwlock_wrlock(&sp->lock);
	ret = rs_obj_get(r, id, true, &o, err);
	if (ret)
		goto out_unlock;
	if (!truncate && to > o->size)
		to = o->size;
	if (!truncate && from >= to)
		goto out_unlock;	/* nothing inside the object */
	if (obj_copy(o, &c, 0) || head_update_init(&h, o->npieces) ||
	    !(head = rados_create_write_op())) {
		ret = mixfs_err_set(err, -ENOMEM, "out of memory");
		goto out_free;
	}
	if (from < to && (!truncate || size < o->size))
		freed = cut_range(r, &c, from, to, truncate, &h, head, &b);
	if (freed < 0) {
		ret = batch_end(&b, (int)freed);
		ret = change_failed(r, id, ret);
		goto out_free;
	}
	if (truncate)
		c.size = size;
	clock_gettime(CLOCK_REALTIME, &c.mtime);
	head_update_apply(&h, head, &c);
	ret = batch_write(&b, 0, head);
	head = NULL;
	ret = batch_end(&b, ret);
	if (ret) {
		ret = change_failed(r, id, ret);
		goto out_free;
	}
	rs_space_give(r, (uint64_t)freed);
	obj_commit(o, &c);
	c.pieces = NULL;
out_free:
	if (head)
		rados_release_write_op(head);
	head_update_release(&h);
	free(c.pieces);
out_unlock:
	pthread_rwlock_unlock(&sp->lock);
	return ret;
}

int rs_truncate(struct objstore *s, uint64_t id, uint64_t size,
		struct mixfs_err *err)
{
	return cut_object(s, id, size, OBJSTORE_MAX_SIZE + 1, true, size, err);
}

int rs_punch(struct objstore *s, uint64_t id, uint64_t off, uint64_t len,
	     struct mixfs_err *err)
{
	return cut_object(s, id, off, off + len, false, 0, err);
}

int rs_pieces_remove(struct rs_store *r, const struct rs_obj *o,
		     struct mixfs_err *err)
{
	struct batch b = { .r = r, .id = o->id, .what = "removing",
			   .err = err };
	size_t i;
	int ret = 0;

	for (i = 0; i < o->npieces && !ret; i++) {
		rados_write_op_t w;

		if (o->pieces[i].idx == 0)
			continue;
		w = rados_create_write_op();
		if (!w) {
			ret = mixfs_err_set(err, -ENOMEM, "out of memory");
			break;
		}
		rados_write_op_remove(w);
		ret = batch_write(&b, o->pieces[i].idx, w);
	}
	return batch_end(&b, ret);
}

/* --- recount --------------------------------------------------------------- */

int rs_recount(struct rs_store *r, uint64_t *used, uint64_t *objects,
	       uint64_t *max_id, struct mixfs_err *err)
{
	rados_list_ctx_t ls;
	const char *name;
	int ret;

	*used = *objects = *max_id = 0;
	ret = rados_nobjects_list_open(r->io, &ls);
	if (ret)
		return mixfs_err_set(err, ret, "listing the store's objects: %s",
				     strerror(-ret));
	while ((ret = rados_nobjects_list_next(ls, &name, NULL, NULL)) == 0) {
		struct rs_obj *o;
		uint64_t id;
		char *end;

		if (strlen(name) != 18 || strncmp(name, "o.", 2))
			continue;
		id = strtoull(name + 2, &end, 16);
		if (*end || !id)
			continue;
		ret = obj_load(r, id, NULL, &o, err);
		if (ret == -ENOENT)
			continue;	/* removed since it was listed */
		if (ret)
			break;
		*used += rs_obj_allocated(r, o);
		(*objects)++;
		if (id > *max_id)
			*max_id = id;
		rs_obj_free(o);
	}
	rados_nobjects_list_close(ls);
	if (ret == -ENOENT)
		return 0;	/* the end of the listing */
	return mixfs_err_prefix(err, ret, "counting the store's objects");
}
