/*
 * extent.c - the "extent" allocator: free space as a set of disjoint,
 * never-adjacent free extents, kept in a treap (a binary search tree
 * ordered by start, balanced by a pseudo-random priority per node).
 *
 * One tree serves both orders WiredTiger's block_ext.c keeps two skip lists
 * for. Each node also records the longest extent in its subtree, so:
 *   by offset  the extent holding or preceding a block, and in-order walks;
 *   by size    "the first extent at or after the goal at least n long" and
 *              "the longest extent", by descending only into subtrees whose
 *              longest extent is long enough.
 * A by-size index alone could not answer the first question, which is the
 * one a filesystem asks (near the goal, and big enough).
 *
 * Nodes live in one array and refer to each other by 32-bit index (0 is
 * "none"): 32 bytes a node, no per-node malloc, and a node's priority is a
 * hash of its index, so it need not be stored. Freed nodes go on a free
 * list; the array never shrinks.
 *
 * Policy: the goal if it is free; else the first extent after the goal that
 * holds the whole request, wrapping round; else the longest extent.
 *
 * Not here: argument checks and counters (balloc.c), serialisation
 * (serial.c).
 */
#include "alloclib/balloc_impl.h"

#include <errno.h>
#include <stdlib.h>

#define NIL 0u

struct enode {
	uint64_t start, len;
	uint64_t maxlen;	/* longest len in this subtree */
	uint32_t left, right;	/* left doubles as the free-list link */
};

struct etree {
	struct enode *n;	/* n[0] is the NIL sentinel, all zero */
	uint32_t cap;		/* slots in n */
	uint32_t used;		/* slots ever handed out (high water) */
	uint32_t freelist;
	uint32_t root;
};

static struct etree *et(const struct balloc *a)
{
	return a->impl;
}

static uint32_t prio(uint32_t i)
{
	/* lowbias32 (Chris Wellons): a good 32-bit integer hash */
	i ^= i >> 16;
	i *= 0x7feb352dU;
	i ^= i >> 15;
	i *= 0x846ca68bU;
	i ^= i >> 16;
	return i;
}

static uint64_t end_of(const struct enode *x)
{
	return x->start + x->len;
}

static void update(struct etree *t, uint32_t i)
{
	struct enode *x = &t->n[i];
	uint64_t m = x->len;

	if (t->n[x->left].maxlen > m)
		m = t->n[x->left].maxlen;
	if (t->n[x->right].maxlen > m)
		m = t->n[x->right].maxlen;
	x->maxlen = m;
}

/*
 * Make sure one node can be taken without failing, so that every change
 * below can be made all the way once it has started.
 */
static int ensure_spare(struct etree *t)
{
	struct enode *n;
	uint32_t cap;

	if (t->freelist != NIL || t->used < t->cap)
		return 0;
	if (t->cap >= UINT32_MAX / 2)
		return -ENOMEM;
	cap = t->cap * 2;
	n = realloc(t->n, (size_t)cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	t->n = n;
	t->cap = cap;
	return 0;
}

static uint32_t node_take(struct etree *t, uint64_t start, uint64_t len)
{
	uint32_t i;

	if (t->freelist != NIL) {
		i = t->freelist;
		t->freelist = t->n[i].left;
	} else {
		i = t->used++;
	}
	t->n[i].start = start;
	t->n[i].len = len;
	t->n[i].maxlen = len;
	t->n[i].left = t->n[i].right = NIL;
	return i;
}

static void node_put(struct etree *t, uint32_t i)
{
	t->n[i].left = t->freelist;
	t->n[i].len = t->n[i].maxlen = 0;
	t->freelist = i;
}

/* Split subtree @i into keys < @key (*@l) and keys >= @key (*@r). */
static void split(struct etree *t, uint32_t i, uint64_t key, uint32_t *l,
		  uint32_t *r)
{
	if (i == NIL) {
		*l = *r = NIL;
		return;
	}
	if (t->n[i].start < key) {
		split(t, t->n[i].right, key, &t->n[i].right, r);
		*l = i;
	} else {
		split(t, t->n[i].left, key, l, &t->n[i].left);
		*r = i;
	}
	update(t, i);
}

/* Join two subtrees, every key of @l below every key of @r. */
static uint32_t merge(struct etree *t, uint32_t l, uint32_t r)
{
	if (l == NIL)
		return r;
	if (r == NIL)
		return l;
	if (prio(l) > prio(r)) {
		t->n[l].right = merge(t, t->n[l].right, r);
		update(t, l);
		return l;
	}
	t->n[r].left = merge(t, l, t->n[r].left);
	update(t, r);
	return r;
}

static uint32_t insert_rec(struct etree *t, uint32_t i, uint32_t x)
{
	if (i == NIL)
		return x;
	if (prio(x) > prio(i)) {
		split(t, i, t->n[x].start, &t->n[x].left, &t->n[x].right);
		update(t, x);
		return x;
	}
	if (t->n[x].start < t->n[i].start)
		t->n[i].left = insert_rec(t, t->n[i].left, x);
	else
		t->n[i].right = insert_rec(t, t->n[i].right, x);
	update(t, i);
	return i;
}

/* Insert a free extent; a spare node must have been ensured. */
static void insert(struct etree *t, uint64_t start, uint64_t len)
{
	t->root = insert_rec(t, t->root, node_take(t, start, len));
}

static uint32_t erase_rec(struct etree *t, uint32_t i, uint64_t key)
{
	struct enode *x = &t->n[i];

	if (x->start == key) {
		uint32_t j = merge(t, x->left, x->right);

		node_put(t, i);
		return j;
	}
	if (key < x->start)
		x->left = erase_rec(t, x->left, key);
	else
		x->right = erase_rec(t, x->right, key);
	update(t, i);
	return i;
}

static void erase(struct etree *t, uint64_t key)
{
	t->root = erase_rec(t, t->root, key);
}

/*
 * After the node at @key changed its length (or moved its start without
 * passing another extent), recompute maxlen along its path.
 */
static void refresh_rec(struct etree *t, uint32_t i, uint64_t key)
{
	if (key < t->n[i].start)
		refresh_rec(t, t->n[i].left, key);
	else if (key > t->n[i].start)
		refresh_rec(t, t->n[i].right, key);
	update(t, i);
}

static void refresh(struct etree *t, uint64_t key)
{
	refresh_rec(t, t->root, key);
}

/* The extent with the largest start <= @b, or NIL. */
static uint32_t find_le(const struct etree *t, uint64_t b)
{
	uint32_t i = t->root, best = NIL;

	while (i != NIL) {
		if (t->n[i].start <= b) {
			best = i;
			i = t->n[i].right;
		} else {
			i = t->n[i].left;
		}
	}
	return best;
}

/* The extent with the smallest start >= @b, or NIL. */
static uint32_t find_ge(const struct etree *t, uint64_t b)
{
	uint32_t i = t->root, best = NIL;

	while (i != NIL) {
		if (t->n[i].start >= b) {
			best = i;
			i = t->n[i].left;
		} else {
			i = t->n[i].right;
		}
	}
	return best;
}

/* The first extent starting at or after @goal that is >= @need long. */
static uint32_t first_fit(const struct etree *t, uint32_t i, uint64_t goal,
			  uint64_t need)
{
	while (i != NIL && t->n[i].maxlen >= need) {
		const struct enode *x = &t->n[i];

		if (x->start >= goal) {
			uint32_t r = first_fit(t, x->left, goal, need);

			if (r != NIL)
				return r;
			if (x->len >= need)
				return i;
		}
		i = x->right;
	}
	return NIL;
}

/*
 * Take [s, s + n) out of free extent @i (which holds it). Only a cut from
 * the middle needs a new node, which the caller has ensured.
 */
static void carve(struct etree *t, uint32_t i, uint64_t s, uint64_t n)
{
	struct enode *x = &t->n[i];
	uint64_t xs = x->start, xe = end_of(x);

	if (s == xs && n == x->len) {
		erase(t, xs);
	} else if (s == xs) {
		x->start += n;
		x->len -= n;
		refresh(t, x->start);
	} else if (s + n == xe) {
		x->len -= n;
		refresh(t, xs);
	} else {
		x->len = s - xs;
		refresh(t, xs);
		insert(t, s + n, xe - (s + n));
	}
}

static int extent_init(struct balloc *a)
{
	struct etree *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->cap = 64;
	t->n = calloc(t->cap, sizeof(*t->n));
	if (!t->n) {
		free(t);
		return -ENOMEM;
	}
	t->used = 1;
	insert(t, 0, a->nblocks);
	a->impl = t;
	return 0;
}

static void extent_release(struct balloc *a)
{
	struct etree *t = et(a);

	if (!t)
		return;
	free(t->n);
	free(t);
	a->impl = NULL;
}

static int extent_alloc(struct balloc *a, uint64_t goal, uint64_t min,
			uint64_t max, struct balloc_extent *out)
{
	struct etree *t = et(a);
	uint32_t i = find_le(t, goal);
	uint64_t s;

	if (ensure_spare(t) < 0)
		return -ENOMEM;
	if (i != NIL && end_of(&t->n[i]) > goal &&
	    end_of(&t->n[i]) - goal >= min) {
		s = goal;
	} else {
		i = first_fit(t, t->root, goal, max);
		if (i == NIL)
			i = first_fit(t, t->root, 0, max);
		if (i == NIL) {
			uint64_t longest = t->n[t->root].maxlen;

			if (longest < min)
				return -ENOSPC;
			i = first_fit(t, t->root, goal, longest);
			if (i == NIL)
				i = first_fit(t, t->root, 0, longest);
		}
		s = t->n[i].start;
	}
	out->start = s;
	out->len = end_of(&t->n[i]) - s < max ? end_of(&t->n[i]) - s : max;
	carve(t, i, s, out->len);
	return 0;
}

static int extent_is_free(const struct balloc *a, uint64_t start, uint64_t len)
{
	const struct etree *t = et(a);
	uint32_t i = find_le(t, start);

	return i != NIL && end_of(&t->n[i]) >= start + len;
}

static int extent_mark_used(struct balloc *a, uint64_t start, uint64_t len)
{
	struct etree *t = et(a);

	if (ensure_spare(t) < 0)
		return -ENOMEM;
	carve(t, find_le(t, start), start, len);
	return 0;
}

static int extent_free_range(struct balloc *a, uint64_t start, uint64_t len,
			     uint64_t *blk)
{
	struct etree *t = et(a);
	uint32_t p = find_le(t, start), q = find_ge(t, start);
	int left, right;

	/* p is the only extent that can hold @start, q the first that can
	 * start inside the range; if neither overlaps, q follows the range */
	if (p != NIL && end_of(&t->n[p]) > start) {
		*blk = start;
		return -EINVAL;
	}
	if (q != NIL && t->n[q].start < start + len) {
		*blk = t->n[q].start;
		return -EINVAL;
	}
	left = p != NIL && end_of(&t->n[p]) == start;
	right = q != NIL && t->n[q].start == start + len;
	if (left && right) {
		uint64_t qlen = t->n[q].len;

		erase(t, start + len);
		t->n[p].len += len + qlen;
		refresh(t, t->n[p].start);
	} else if (left) {
		t->n[p].len += len;
		refresh(t, t->n[p].start);
	} else if (right) {
		t->n[q].start = start;
		t->n[q].len += len;
		refresh(t, start);
	} else {
		if (ensure_spare(t) < 0)
			return -ENOMEM;
		insert(t, start, len);
	}
	return 0;
}

static uint64_t extent_largest_free(const struct balloc *a)
{
	const struct etree *t = et(a);

	return t->n[t->root].maxlen;
}

static int iterate_rec(const struct etree *t, uint32_t i, uint64_t from,
		       balloc_extent_fn fn, void *arg)
{
	const struct enode *x;
	int ret;

	while (i != NIL) {
		x = &t->n[i];
		/* extents left of one starting at or before @from end
		 * before it */
		if (x->start > from) {
			ret = iterate_rec(t, x->left, from, fn, arg);
			if (ret)
				return ret;
		}
		if (end_of(x) > from) {
			uint64_t s = x->start > from ? x->start : from;

			ret = fn(arg, s, end_of(x) - s);
			if (ret)
				return ret;
		}
		i = x->right;
	}
	return 0;
}

static int extent_iterate_free(const struct balloc *a, uint64_t from,
			       balloc_extent_fn fn, void *arg)
{
	const struct etree *t = et(a);

	return iterate_rec(t, t->root, from, fn, arg);
}

static int extent_grow(struct balloc *a, uint64_t nblocks)
{
	struct etree *t = et(a);
	uint32_t i = find_le(t, a->nblocks - 1);

	if (i != NIL && end_of(&t->n[i]) == a->nblocks) {
		t->n[i].len += nblocks - a->nblocks;
		refresh(t, t->n[i].start);
		return 0;
	}
	if (ensure_spare(t) < 0)
		return -ENOMEM;
	insert(t, a->nblocks, nblocks - a->nblocks);
	return 0;
}

static size_t extent_mem_bytes(const struct balloc *a)
{
	const struct etree *t = et(a);

	return sizeof(*t) + (size_t)t->cap * sizeof(*t->n);
}

const struct balloc_ops balloc_extent_ops = {
	.name = "extent",
	.encoding = BALLOC_ENC_EXTENTS,
	.init = extent_init,
	.release = extent_release,
	.alloc = extent_alloc,
	.is_free = extent_is_free,
	.mark_used = extent_mark_used,
	.free_range = extent_free_range,
	.largest_free = extent_largest_free,
	.iterate_free = extent_iterate_free,
	.grow = extent_grow,
	.mem_bytes = extent_mem_bytes,
};
