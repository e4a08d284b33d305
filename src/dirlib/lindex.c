/*
 * lindex.c - the linear strategy's in-memory index: a name-hash table,
 * the live records in cookie order, and a max tree over the blocks' free
 * space. Plain data structures, no I/O: linear.c fills them from the
 * stream and keeps them current.
 *
 * Why these three: the hash table makes lookup (and insert's -EEXIST
 * check) O(1) instead of a pass over the stream; the cookie array makes
 * readdir resume in O(log n) and list in cookie order although reused
 * slots put new records anywhere in the stream; the tree finds a block
 * with room in O(log blocks) instead of ext2's scan of every block.
 */
#include "dirlib/linear.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TAB_MIN	64

struct lin_index *lin_index_new(uint32_t bs, unsigned opts)
{
	struct lin_index *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->bs = bs;
	x->opts = opts;
	x->tab_cap = TAB_MIN;
	x->tab = calloc(x->tab_cap, sizeof(*x->tab));
	if (!x->tab) {
		free(x);
		return NULL;
	}
	return x;
}

void lin_index_free(struct lin_index *x)
{
	if (!x)
		return;
	free(x->tab);
	free(x->cook);
	free(x->tree);
	free(x);
}

/* FNV-1a with a final mix, so the low bits used as the slot are good. */
uint64_t lin_hash(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

/* --- Hash table: linear probing, backward-shift deletion ----------------- */

static void tab_place(struct lin_slot *tab, size_t cap, uint64_t hash,
		      uint64_t off)
{
	size_t i = hash & (cap - 1);

	while (tab[i].off)
		i = (i + 1) & (cap - 1);
	tab[i].off = off;
	tab[i].hash = hash;
}

int lin_index_add(struct lin_index *x, uint64_t hash, uint64_t off)
{
	if ((x->live + 1) * 10 > x->tab_cap * 7) {
		size_t cap = x->tab_cap * 2;
		struct lin_slot *tab = calloc(cap, sizeof(*tab));

		if (!tab)
			return -ENOMEM;
		for (size_t i = 0; i < x->tab_cap; i++)
			if (x->tab[i].off)
				tab_place(tab, cap, x->tab[i].hash,
					  x->tab[i].off);
		free(x->tab);
		x->tab = tab;
		x->tab_cap = cap;
	}
	tab_place(x->tab, x->tab_cap, hash, off);
	x->live++;
	return 0;
}

void lin_index_del(struct lin_index *x, uint64_t hash, uint64_t off)
{
	size_t mask = x->tab_cap - 1, i = hash & mask, j;

	while (x->tab[i].off && x->tab[i].off != off)
		i = (i + 1) & mask;
	if (!x->tab[i].off)
		return;
	/* Shift later members of the cluster back over the hole unless
	 * their home slot lies cyclically in (hole, their slot]. */
	for (j = (i + 1) & mask; x->tab[j].off; j = (j + 1) & mask) {
		size_t home = x->tab[j].hash & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			x->tab[i] = x->tab[j];
			i = j;
		}
	}
	x->tab[i].off = 0;
	x->live--;
}

uint64_t lin_index_probe(const struct lin_index *x, uint64_t hash,
			 size_t *i)
{
	size_t mask = x->tab_cap - 1;

	*i = *i == SIZE_MAX ? (hash & mask) : ((*i + 1) & mask);
	for (; x->tab[*i].off; *i = (*i + 1) & mask)
		if (x->tab[*i].hash == hash)
			return x->tab[*i].off;
	return 0;
}

/* --- Cookie array ------------------------------------------------------- */

int lin_cook_append(struct lin_index *x, uint64_t cookie, uint64_t off)
{
	if (x->cook_n == x->cook_cap) {
		size_t cap = x->cook_cap ? x->cook_cap * 2 : 64;
		struct lin_cref *c = realloc(x->cook, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		x->cook = c;
		x->cook_cap = cap;
	}
	x->cook[x->cook_n].cookie = cookie;
	x->cook[x->cook_n].off = off;
	x->cook_n++;
	return 0;
}

static int cref_cmp(const void *a, const void *b)
{
	const struct lin_cref *x = a, *y = b;

	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

int lin_cook_sort(struct lin_index *x, uint64_t *dup)
{
	if (x->cook_n)
		qsort(x->cook, x->cook_n, sizeof(*x->cook), cref_cmp);
	for (size_t i = 1; i < x->cook_n; i++)
		if (x->cook[i].cookie == x->cook[i - 1].cookie) {
			*dup = x->cook[i].cookie;
			return -EEXIST;
		}
	return 0;
}

size_t lin_cook_after(const struct lin_index *x, uint64_t after)
{
	size_t lo = 0, hi = x->cook_n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->cook[mid].cookie <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Squeeze the holes out once they outnumber the live records. */
static void cook_compact(struct lin_index *x)
{
	size_t n = 0;

	for (size_t i = 0; i < x->cook_n; i++)
		if (x->cook[i].off)
			x->cook[n++] = x->cook[i];
	x->cook_n = n;
	x->cook_dead = 0;
}

void lin_cook_del(struct lin_index *x, uint64_t cookie)
{
	size_t i = lin_cook_after(x, cookie - 1);

	if (i == x->cook_n || x->cook[i].cookie != cookie || !x->cook[i].off)
		return;
	x->cook[i].off = 0;
	x->cook_dead++;
	if (x->cook_dead > 64 && x->cook_dead * 2 > x->cook_n)
		cook_compact(x);
}

/* --- Free-space tree ---------------------------------------------------- */

int lin_tree_grow(struct lin_index *x, uint64_t nblocks)
{
	size_t leaves = x->leaves ? x->leaves : 1;
	uint16_t *t;

	if (nblocks <= x->leaves)
		return 0;
	while (leaves < nblocks)
		leaves *= 2;
	t = calloc(2 * leaves, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t b = 0; b < x->leaves; b++)
		t[leaves + b] = x->tree[x->leaves + b];
	for (size_t i = leaves - 1; i >= 1; i--)
		t[i] = t[2 * i] > t[2 * i + 1] ? t[2 * i] : t[2 * i + 1];
	free(x->tree);
	x->tree = t;
	x->leaves = leaves;
	return 0;
}

void lin_tree_set(struct lin_index *x, uint64_t block, uint32_t avail)
{
	size_t i = x->leaves + block;

	x->tree[i] = (uint16_t)avail;
	for (i /= 2; i >= 1; i /= 2) {
		uint16_t m = x->tree[2 * i] > x->tree[2 * i + 1] ?
			     x->tree[2 * i] : x->tree[2 * i + 1];

		if (x->tree[i] == m)
			break;
		x->tree[i] = m;
	}
}

uint64_t lin_tree_find(const struct lin_index *x, uint32_t need)
{
	size_t i = 1;

	if (!x->leaves || x->tree[1] < need)
		return UINT64_MAX;
	while (i < x->leaves)
		i = x->tree[2 * i] >= need ? 2 * i : 2 * i + 1;
	return i - x->leaves;
}
