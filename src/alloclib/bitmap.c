/*
 * bitmap.c - the "bitmap" allocator: one bit per block (set = in use), in
 * 64-bit words, and ext2-style block groups of 8 * block_size blocks (the
 * blocks one bitmap block of the driver's format describes) with a free
 * count each, so a search walks past full groups without reading their
 * bits.
 *
 * Policy, as in ext2: take the goal if it is free, else the first free run
 * long enough after the goal, wrapping round. It does not look for the
 * best run: that would mean reading the whole map on every allocation.
 *
 * Not here: argument checks and counters (balloc.c), serialisation
 * (serial.c).
 */
#include "alloclib/balloc_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct bitmap {
	uint64_t *words;	/* ceil(nblocks / 64); bits past the end 0 */
	uint32_t *gfree;	/* free blocks per group */
	uint64_t nwords, ngroups;
	unsigned gshift;	/* log2(blocks per group) */
};

static struct bitmap *bm(const struct balloc *a)
{
	return a->impl;
}

static uint64_t div_up(uint64_t x, uint64_t d)
{
	return x / d + (x % d != 0);
}

/* First bit in [from, end) equal to @want, or @end. */
static uint64_t find_bit(const uint64_t *w, uint64_t from, uint64_t end,
			 int want)
{
	uint64_t i = from / 64, word;

	if (from >= end)
		return end;
	word = want ? w[i] : ~w[i];
	word &= ~0ULL << (from % 64);
	for (;;) {
		if (word) {
			uint64_t b = i * 64 + (uint64_t)__builtin_ctzll(word);

			return b < end ? b : end;
		}
		if (++i * 64 >= end)
			return end;
		word = want ? w[i] : ~w[i];
	}
}

static uint64_t find_used(const struct bitmap *b, uint64_t from, uint64_t end)
{
	return find_bit(b->words, from, end, 1);
}

/*
 * First free block in [from, end), skipping whole groups with no free
 * block; @end if none.
 */
static uint64_t find_free_blk(const struct bitmap *b, uint64_t from,
			      uint64_t end)
{
	while (from < end) {
		uint64_t g = from >> b->gshift;
		uint64_t gend = (g + 1) << b->gshift;
		uint64_t z;

		if (gend > end)
			gend = end;
		if (b->gfree[g] != 0) {
			z = find_bit(b->words, from, gend, 0);
			if (z < gend)
				return z;
		}
		from = gend;
	}
	return end;
}

/* Set or clear [start, start + len), all currently the other way round. */
static void set_range(struct bitmap *b, uint64_t start, uint64_t len, int used)
{
	uint64_t end = start + len, pos = start;

	while (pos < end) {
		uint64_t g = pos >> b->gshift;
		uint64_t gend = (g + 1) << b->gshift;
		uint64_t n = (gend < end ? gend : end) - pos;

		if (used)
			b->gfree[g] -= (uint32_t)n;
		else
			b->gfree[g] += (uint32_t)n;
		pos += n;
	}
	for (pos = start; pos < end;) {
		uint64_t i = pos / 64, off = pos % 64;
		uint64_t n = 64 - off < end - pos ? 64 - off : end - pos;
		uint64_t mask = (n == 64 ? ~0ULL : ((1ULL << n) - 1)) << off;

		if (used)
			b->words[i] |= mask;
		else
			b->words[i] &= ~mask;
		pos += n;
	}
}

static int bitmap_init(struct balloc *a)
{
	struct bitmap *b = calloc(1, sizeof(*b));
	uint64_t g, gsize;

	if (!b)
		return -ENOMEM;
	b->gshift = (unsigned)__builtin_ctz(a->block_size) + 3;
	gsize = 1ULL << b->gshift;
	b->nwords = div_up(a->nblocks, 64);
	b->ngroups = div_up(a->nblocks, gsize);
	/* The second only if the first worked: a map too big for memory
	 * fails at once instead of first filling gigabytes of group counts
	 * (a serialised map may claim any size). */
	b->words = calloc(b->nwords, sizeof(*b->words));
	b->gfree = b->words ? malloc(b->ngroups * sizeof(*b->gfree)) : NULL;
	if (!b->words || !b->gfree) {
		free(b->words);
		free(b->gfree);
		free(b);
		return -ENOMEM;
	}
	for (g = 0; g < b->ngroups; g++)
		b->gfree[g] = (uint32_t)(g + 1 < b->ngroups ? gsize :
					 a->nblocks - g * gsize);
	a->impl = b;
	return 0;
}

static void bitmap_release(struct balloc *a)
{
	struct bitmap *b = bm(a);

	if (!b)
		return;
	free(b->words);
	free(b->gfree);
	free(b);
	a->impl = NULL;
}

/*
 * The first free run of at least @min blocks starting in [lo, hi), taken
 * up to @max long. 1 if found.
 */
static int take_first_run(struct balloc *a, uint64_t lo, uint64_t hi,
			  uint64_t min, uint64_t max, struct balloc_extent *out)
{
	struct bitmap *b = bm(a);
	uint64_t pos = lo;

	while (pos < hi) {
		uint64_t z = find_free_blk(b, pos, hi), e, lim;

		if (z >= hi)
			return 0;
		lim = a->nblocks - z < max ? a->nblocks : z + max;
		e = find_used(b, z, lim);
		if (e - z >= min) {
			out->start = z;
			out->len = e - z;
			set_range(b, z, e - z, 1);
			return 1;
		}
		pos = e;
	}
	return 0;
}

static int bitmap_alloc(struct balloc *a, uint64_t goal, uint64_t min,
			uint64_t max, struct balloc_extent *out)
{
	if (take_first_run(a, goal, a->nblocks, min, max, out))
		return 0;
	if (take_first_run(a, 0, goal, min, max, out))
		return 0;
	return -ENOSPC;
}

static int bitmap_is_free(const struct balloc *a, uint64_t start, uint64_t len)
{
	return find_used(bm(a), start, start + len) == start + len;
}

static int bitmap_mark_used(struct balloc *a, uint64_t start, uint64_t len)
{
	set_range(bm(a), start, len, 1);
	return 0;
}

static int bitmap_free_range(struct balloc *a, uint64_t start, uint64_t len,
			     uint64_t *blk)
{
	uint64_t z = find_bit(bm(a)->words, start, start + len, 0);

	if (z < start + len) {
		*blk = z;
		return -EINVAL;
	}
	set_range(bm(a), start, len, 0);
	return 0;
}

static int bitmap_iterate_free(const struct balloc *a, uint64_t from,
			       balloc_extent_fn fn, void *arg)
{
	const struct bitmap *b = bm(a);

	while (from < a->nblocks) {
		uint64_t z = find_free_blk(b, from, a->nblocks), e;
		int ret;

		if (z >= a->nblocks)
			break;
		e = find_used(b, z, a->nblocks);
		ret = fn(arg, z, e - z);
		if (ret)
			return ret;
		from = e;
	}
	return 0;
}

static int largest_cb(void *arg, uint64_t start, uint64_t len)
{
	uint64_t *best = arg;

	(void)start;
	if (len > *best)
		*best = len;
	return 0;
}

static uint64_t bitmap_largest_free(const struct balloc *a)
{
	uint64_t best = 0;

	bitmap_iterate_free(a, 0, largest_cb, &best);
	return best;
}

static int bitmap_grow(struct balloc *a, uint64_t nblocks)
{
	struct bitmap *b = bm(a);
	uint64_t gsize = 1ULL << b->gshift;
	uint64_t nwords = div_up(nblocks, 64), ngroups = div_up(nblocks, gsize);
	uint64_t *w;
	uint32_t *gf;
	uint64_t pos;

	/* Both arrays are grown before either is used, so a failure leaves
	 * only a larger buffer behind, never a changed map. */
	w = realloc(b->words, nwords * sizeof(*w));
	if (!w)
		return -ENOMEM;
	memset(w + b->nwords, 0, (nwords - b->nwords) * sizeof(*w));
	b->words = w;
	b->nwords = nwords;
	gf = realloc(b->gfree, ngroups * sizeof(*gf));
	if (!gf)
		return -ENOMEM;
	memset(gf + b->ngroups, 0, (ngroups - b->ngroups) * sizeof(*gf));
	b->gfree = gf;
	b->ngroups = ngroups;
	for (pos = a->nblocks; pos < nblocks;) {
		uint64_t g = pos >> b->gshift, gend = (g + 1) << b->gshift;
		uint64_t n = (gend < nblocks ? gend : nblocks) - pos;

		gf[g] += (uint32_t)n;
		pos += n;
	}
	return 0;
}

static size_t bitmap_mem_bytes(const struct balloc *a)
{
	const struct bitmap *b = bm(a);

	return sizeof(*b) + b->nwords * sizeof(*b->words) +
	       b->ngroups * sizeof(*b->gfree);
}

const struct balloc_ops balloc_bitmap_ops = {
	.name = "bitmap",
	.encoding = BALLOC_ENC_BITMAP,
	.init = bitmap_init,
	.release = bitmap_release,
	.alloc = bitmap_alloc,
	.is_free = bitmap_is_free,
	.mark_used = bitmap_mark_used,
	.free_range = bitmap_free_range,
	.largest_free = bitmap_largest_free,
	.iterate_free = bitmap_iterate_free,
	.grow = bitmap_grow,
	.mem_bytes = bitmap_mem_bytes,
};
