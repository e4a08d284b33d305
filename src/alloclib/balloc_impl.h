/*
 * balloc_impl.h - the contract between the generic layer (balloc.c) and an
 * allocator implementation (bitmap.c, extent.c). Not for drivers.
 *
 * The generic layer validates every argument, keeps the free and reserved
 * counts, enforces reservations and writes error messages. An
 * implementation only keeps the map: its operations are called with ranges
 * already checked against nblocks and, where stated, already known to be
 * entirely free or entirely in use. They never see a struct mixfs_err.
 */
#ifndef MIXFS_ALLOCLIB_BALLOC_IMPL_H
#define MIXFS_ALLOCLIB_BALLOC_IMPL_H

#include "alloclib/balloc.h"

/* Encodings of the serialised body (see balloc.h). */
enum {
	BALLOC_ENC_BITMAP = 1,
	BALLOC_ENC_EXTENTS = 2,
};

struct balloc_ops {
	const char *name;
	int encoding;		/* the encoding balloc_serialise() writes */

	/* Set a->impl up for a->nblocks blocks, all free. 0 or -ENOMEM. */
	int (*init)(struct balloc *a);
	void (*release)(struct balloc *a);

	/*
	 * Find a free run of @min..@max blocks near @goal (< nblocks) by the
	 * implementation's policy, mark it in use, return it in *@out.
	 * -ENOSPC (no run of @min) or -ENOMEM; nothing changes on failure.
	 */
	int (*alloc)(struct balloc *a, uint64_t goal, uint64_t min,
		     uint64_t max, struct balloc_extent *out);

	/* 1 if the whole range is free, else 0. */
	int (*is_free)(const struct balloc *a, uint64_t start, uint64_t len);

	/* Mark an entirely free range in use. 0 or -ENOMEM (no change). */
	int (*mark_used)(struct balloc *a, uint64_t start, uint64_t len);

	/*
	 * Free a range. If any block of it is already free: -EINVAL, the
	 * first such block in *@blk, nothing changed (checking and freeing
	 * in one call saves the extent tree a second pair of lookups).
	 * -ENOMEM, no change.
	 */
	int (*free_range)(struct balloc *a, uint64_t start, uint64_t len,
			  uint64_t *blk);

	uint64_t (*largest_free)(const struct balloc *a);
	int (*iterate_free)(const struct balloc *a, uint64_t from,
			    balloc_extent_fn fn, void *arg);

	/* Extend the map to @nblocks (> a->nblocks, which the generic layer
	 * updates afterwards); new blocks free. 0 or -ENOMEM, no change. */
	int (*grow)(struct balloc *a, uint64_t nblocks);

	/* Heap bytes held. */
	size_t (*mem_bytes)(const struct balloc *a);
};

extern const struct balloc_ops balloc_bitmap_ops;
extern const struct balloc_ops balloc_extent_ops;

/* The implementation named @kind, or NULL. */
const struct balloc_ops *balloc_find_ops(const char *kind);

#endif
