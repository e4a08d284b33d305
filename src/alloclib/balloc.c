/*
 * balloc.c - the generic layer of the block allocator: argument checks,
 * free and reserved counts, reservations, error messages, and the fsck
 * comparison. The maps themselves live in bitmap.c and extent.c;
 * serialisation in serial.c.
 *
 * Deliberately absent: locking (the caller's), I/O, printing.
 */
#include "alloclib/balloc_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

const char *const balloc_kinds[] = { "bitmap", "extent", NULL };

static const struct balloc_ops *const all_ops[] = {
	&balloc_bitmap_ops,
	&balloc_extent_ops,
};

const struct balloc_ops *balloc_find_ops(const char *kind)
{
	size_t i;

	for (i = 0; kind && i < sizeof(all_ops) / sizeof(all_ops[0]); i++)
		if (strcmp(all_ops[i]->name, kind) == 0)
			return all_ops[i];
	return NULL;
}

int balloc_init(struct balloc *a, const char *kind, uint64_t nblocks,
		uint32_t block_size, struct mixfs_err *err)
{
	const struct balloc_ops *ops = balloc_find_ops(kind);
	int ret;

	memset(a, 0, sizeof(*a));
	if (!ops)
		return mixfs_err_set(err, -EINVAL,
				     "unknown allocator \"%s\" (bitmap, extent)",
				     kind ? kind : "(null)");
	if (block_size < 64 || block_size > (16u << 20) ||
	    (block_size & (block_size - 1)))
		return mixfs_err_set(err, -EINVAL,
				     "block size %" PRIu32 " is not a power of two between 64 and 16 MiB",
				     block_size);
	if (nblocks == 0 || nblocks > UINT64_MAX / 2)
		return mixfs_err_set(err, -EINVAL,
				     "cannot allocate over %" PRIu64 " blocks",
				     nblocks);
	a->ops = ops;
	a->nblocks = nblocks;
	a->block_size = block_size;
	a->nfree = nblocks;
	ret = ops->init(a);
	if (ret < 0) {
		memset(a, 0, sizeof(*a));
		return mixfs_err_set(err, ret,
				     "%s allocator over %" PRIu64 " blocks: out of memory",
				     kind, nblocks);
	}
	return 0;
}

void balloc_release(struct balloc *a)
{
	if (a->ops)
		a->ops->release(a);
	memset(a, 0, sizeof(*a));
}

const char *balloc_kind(const struct balloc *a)
{
	return a->ops ? a->ops->name : "(none)";
}

/* Range [start, start + len) is non-empty and inside the space. */
static int check_range(const struct balloc *a, uint64_t start, uint64_t len,
		       const char *what, struct mixfs_err *err)
{
	if (len == 0)
		return mixfs_err_set(err, -EINVAL, "%s: empty range at block %" PRIu64,
				     what, start);
	if (start >= a->nblocks || len > a->nblocks - start)
		return mixfs_err_set(err, -EINVAL,
				     "%s: blocks %" PRIu64 "+%" PRIu64 " outside the %" PRIu64 " blocks of the space",
				     what, start, len, a->nblocks);
	return 0;
}

/* Blocks this caller may take: available ones plus its own reservation. */
static uint64_t usable(const struct balloc *a, const struct balloc_resv *resv)
{
	return a->nfree - a->reserved + (resv ? resv->blocks : 0);
}

/* Account @got newly placed blocks, charging @resv first. */
static void charge(struct balloc *a, struct balloc_resv *resv, uint64_t got)
{
	a->nfree -= got;
	if (resv) {
		uint64_t t = got < resv->blocks ? got : resv->blocks;

		resv->blocks -= t;
		a->reserved -= t;
	}
}

int balloc_alloc(struct balloc *a, struct balloc_resv *resv, uint64_t goal,
		 uint64_t min, uint64_t max, struct balloc_extent *out,
		 struct mixfs_err *err)
{
	uint64_t avail = usable(a, resv);
	int ret;

	if (min == 0 || min > max)
		return mixfs_err_set(err, -EINVAL,
				     "allocate: bad run length %" PRIu64 "..%" PRIu64,
				     min, max);
	if (avail < min)
		return mixfs_err_set(err, -ENOSPC,
				     "allocate: %" PRIu64 " blocks wanted, %" PRIu64 " available (%" PRIu64 " free, %" PRIu64 " reserved)",
				     min, avail, a->nfree, a->reserved);
	if (max > avail)
		max = avail;
	if (goal >= a->nblocks)
		goal = 0;
	ret = a->ops->alloc(a, goal, min, max, out);
	if (ret == -ENOSPC)
		return mixfs_err_set(err, ret,
				     "allocate: no run of %" PRIu64 " free blocks (%" PRIu64 " free in all)",
				     min, a->nfree);
	if (ret < 0)
		return mixfs_err_set(err, ret, "allocate: out of memory");
	charge(a, resv, out->len);
	return 0;
}

int balloc_alloc_one(struct balloc *a, struct balloc_resv *resv,
		     uint64_t goal, uint64_t *blk, struct mixfs_err *err)
{
	struct balloc_extent x;
	int ret = balloc_alloc(a, resv, goal, 1, 1, &x, err);

	if (ret == 0)
		*blk = x.start;
	return ret;
}

int balloc_alloc_at(struct balloc *a, struct balloc_resv *resv,
		    uint64_t start, uint64_t len, struct mixfs_err *err)
{
	uint64_t blk;
	int ret;

	ret = check_range(a, start, len, "allocate", err);
	if (ret < 0)
		return ret;
	if (!a->ops->is_free(a, start, len)) {
		for (blk = start; a->ops->is_free(a, blk, 1); blk++)
			;
		return mixfs_err_set(err, -ENOSPC,
				     "allocate: block %" PRIu64 " of %" PRIu64 "+%" PRIu64 " is in use",
				     blk, start, len);
	}
	if (usable(a, resv) < len)
		return mixfs_err_set(err, -ENOSPC,
				     "allocate: %" PRIu64 " blocks wanted, %" PRIu64 " available (%" PRIu64 " reserved)",
				     len, usable(a, resv), a->reserved);
	ret = a->ops->mark_used(a, start, len);
	if (ret < 0)
		return mixfs_err_set(err, ret, "allocate: out of memory");
	charge(a, resv, len);
	return 0;
}

int balloc_free(struct balloc *a, uint64_t start, uint64_t len,
		struct mixfs_err *err)
{
	uint64_t blk;
	int ret;

	ret = check_range(a, start, len, "free", err);
	if (ret < 0)
		return ret;
	ret = a->ops->free_range(a, start, len, &blk);
	if (ret == -EINVAL)
		return mixfs_err_set(err, -EINVAL,
				     "free: block %" PRIu64 " of %" PRIu64 "+%" PRIu64 " is already free (double free)",
				     blk, start, len);
	if (ret < 0)
		return mixfs_err_set(err, ret, "free: out of memory");
	a->nfree += len;
	return 0;
}

int balloc_reserve(struct balloc *a, struct balloc_resv *resv, uint64_t n,
		   struct mixfs_err *err)
{
	uint64_t avail = a->nfree - a->reserved;

	if (n > avail)
		return mixfs_err_set(err, -ENOSPC,
				     "reserve: %" PRIu64 " blocks wanted, %" PRIu64 " available (%" PRIu64 " free, %" PRIu64 " reserved)",
				     n, avail, a->nfree, a->reserved);
	resv->blocks += n;
	a->reserved += n;
	return 0;
}

int balloc_unreserve(struct balloc *a, struct balloc_resv *resv, uint64_t n,
		     struct mixfs_err *err)
{
	if (n > resv->blocks || n > a->reserved)
		return mixfs_err_set(err, -EINVAL,
				     "unreserve: %" PRIu64 " blocks given back, the reservation holds %" PRIu64,
				     n, resv->blocks);
	resv->blocks -= n;
	a->reserved -= n;
	return 0;
}

int balloc_is_free(const struct balloc *a, uint64_t start, uint64_t len,
		   struct mixfs_err *err)
{
	int ret = check_range(a, start, len, "query", err);

	if (ret < 0)
		return ret;
	return a->ops->is_free(a, start, len);
}

void balloc_stat(const struct balloc *a, struct balloc_stat *st)
{
	st->nblocks = a->nblocks;
	st->block_size = a->block_size;
	st->free = a->nfree;
	st->reserved = a->reserved;
	st->available = a->nfree - a->reserved;
	st->mem_bytes = a->ops ? a->ops->mem_bytes(a) : 0;
}

uint64_t balloc_count_free(const struct balloc *a)
{
	return a->nfree;
}

uint64_t balloc_largest_free(const struct balloc *a)
{
	return a->ops->largest_free(a);
}

int balloc_iterate_free(const struct balloc *a, uint64_t from,
			balloc_extent_fn fn, void *arg)
{
	if (from >= a->nblocks)
		return 0;
	return a->ops->iterate_free(a, from, fn, arg);
}

int balloc_grow(struct balloc *a, uint64_t nblocks, struct mixfs_err *err)
{
	int ret;

	if (nblocks <= a->nblocks || nblocks > UINT64_MAX / 2)
		return mixfs_err_set(err, -EINVAL,
				     "grow: %" PRIu64 " blocks is not larger than %" PRIu64,
				     nblocks, a->nblocks);
	ret = a->ops->grow(a, nblocks);
	if (ret < 0)
		return mixfs_err_set(err, ret,
				     "grow to %" PRIu64 " blocks: out of memory",
				     nblocks);
	a->nfree += nblocks - a->nblocks;
	a->nblocks = nblocks;
	return 0;
}

/* --- fsck comparison ----------------------------------------------------- */

struct ext_vec {
	struct balloc_extent *v;
	size_t n, cap;
};

static int vec_push(void *arg, uint64_t start, uint64_t len)
{
	struct ext_vec *vec = arg;

	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? vec->cap * 2 : 256;
		struct balloc_extent *v = realloc(vec->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		vec->v = v;
		vec->cap = cap;
	}
	vec->v[vec->n].start = start;
	vec->v[vec->n].len = len;
	vec->n++;
	return 0;
}

static int cmp_start(const void *x, const void *y)
{
	const struct balloc_extent *p = x, *q = y;

	return p->start < q->start ? -1 : p->start > q->start;
}

/*
 * Walk two sorted lists of disjoint extents - the allocator's free extents
 * and the caller's in-use extents - boundary by boundary. Between two
 * consecutive boundaries both views are constant, so each piece is either
 * consistent or one of the two mismatches; neighbouring pieces of the same
 * mismatch are reported as one range.
 */
struct sweep {
	balloc_mismatch_fn fn;
	void *arg;
	int cur;		/* mismatch of the pending range, 0 if none */
	uint64_t start, len;
	int found;
};

static int sweep_emit(struct sweep *s, int what, uint64_t start, uint64_t len)
{
	int ret = 0;

	if (what == s->cur && s->cur && s->start + s->len == start) {
		s->len += len;
		return 0;
	}
	if (s->cur) {
		s->found++;
		if (s->fn)
			ret = s->fn(s->arg, s->cur, s->start, s->len);
	}
	s->cur = what;
	s->start = start;
	s->len = len;
	return ret;
}

int balloc_check(const struct balloc *a, const struct balloc_extent *used,
		 size_t n, balloc_mismatch_fn fn, void *arg,
		 struct mixfs_err *err)
{
	struct ext_vec fr = { 0 }, us = { 0 };
	struct sweep s = { .fn = fn, .arg = arg };
	size_t i, fi = 0, ui = 0;
	uint64_t pos = 0;
	int ret = 0;

	for (i = 0; i < n; i++) {
		ret = check_range(a, used[i].start, used[i].len, "check", err);
		if (ret < 0)
			return ret;
	}
	us.v = malloc((n ? n : 1) * sizeof(*us.v));
	if (!us.v)
		return mixfs_err_set(err, -ENOMEM, "check: out of memory");
	if (n)
		memcpy(us.v, used, n * sizeof(*us.v));
	qsort(us.v, n, sizeof(*us.v), cmp_start);
	/* merge overlapping or touching in-use extents */
	for (i = 0; i < n; i++) {
		if (us.n && us.v[us.n - 1].start + us.v[us.n - 1].len >= us.v[i].start) {
			uint64_t end = us.v[i].start + us.v[i].len;
			struct balloc_extent *l = &us.v[us.n - 1];

			if (end > l->start + l->len)
				l->len = end - l->start;
		} else {
			us.v[us.n++] = us.v[i];
		}
	}
	ret = a->ops->iterate_free(a, 0, vec_push, &fr);
	if (ret < 0) {
		mixfs_err_set(err, ret, "check: out of memory");
		goto out_free;
	}

	while (pos < a->nblocks) {
		uint64_t next = a->nblocks;
		bool in_free = false, in_used = false;
		int what;

		while (fi < fr.n && fr.v[fi].start + fr.v[fi].len <= pos)
			fi++;
		while (ui < us.n && us.v[ui].start + us.v[ui].len <= pos)
			ui++;
		if (fi < fr.n) {
			if (fr.v[fi].start <= pos) {
				in_free = true;
				next = fr.v[fi].start + fr.v[fi].len;
			} else {
				next = fr.v[fi].start;
			}
		}
		if (ui < us.n) {
			uint64_t b;

			if (us.v[ui].start <= pos) {
				in_used = true;
				b = us.v[ui].start + us.v[ui].len;
			} else {
				b = us.v[ui].start;
			}
			if (b < next)
				next = b;
		}
		if (in_free && in_used)
			what = BALLOC_IN_USE_BUT_FREE;
		else if (!in_free && !in_used)
			what = BALLOC_FREE_BUT_ALLOCATED;
		else
			what = 0;
		ret = sweep_emit(&s, what, pos, next - pos);
		if (ret)
			goto out_free;
		pos = next;
	}
	ret = sweep_emit(&s, 0, pos, 0);
	if (!ret)
		ret = s.found;
out_free:
	free(fr.v);
	free(us.v);
	return ret;
}
