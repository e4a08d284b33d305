/*
 * balloc.h - space allocation over a linear address space: the manual.
 *
 * A struct balloc keeps track of which of N blocks (numbered 0..N-1, all of
 * one block size) are in use. It is a pure data structure: no I/O, no
 * threads, no printing. The driver (an ext2-like filesystem, say) decides
 * where the serialised form lives and when it is written.
 *
 * Two implementations sit behind the same calls, chosen by name:
 *
 *   "bitmap"  one bit per block, grouped ext2-style into groups of
 *             8 * block_size blocks (what one bitmap block covers) with a
 *             free count per group, so a search skips full groups.
 *             Small and flat: N/8 bytes whatever the fragmentation.
 *   "extent"  free space as a tree of free extents (start, length) ordered
 *             by start, each subtree knowing its longest extent, so
 *             "the first extent at or after the goal that is at least n
 *             long" and "the longest extent" are O(log extents).
 *             Adjacent free extents are always merged. Memory grows with
 *             fragmentation (32 bytes per free extent), not with N.
 *
 * Lifecycle: struct balloc is caller-owned (embed it in your superblock
 * structure); balloc_init() or balloc_load() set it up and allocate the
 * implementation's state, balloc_release() frees that state.
 *
 * Locking: none inside. The library takes no locks and keeps no global
 * state; the caller serialises every call on one struct balloc (including
 * the read-only ones, which may otherwise see a half-made change). Distinct
 * allocators need no locking against each other.
 *
 * Errors: every call returns 0 (or a count where stated) or a negative
 * errno, and writes a sentence into @err (may be NULL). A call that fails
 * changes nothing.
 *   -EINVAL   out-of-range block numbers, zero or inverted lengths, freeing
 *             a block that is not in use (a double free) - never silently
 *             accepted;
 *   -ENOSPC   the request cannot be met (not enough available blocks, or no
 *             free run long enough);
 *   -ENOMEM   out of memory (the extent tree grows as space fragments);
 *   -EUCLEAN  a serialised buffer is corrupt or truncated.
 */
#ifndef MIXFS_ALLOCLIB_BALLOC_H
#define MIXFS_ALLOCLIB_BALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* A run of blocks [start, start + len). */
struct balloc_extent {
	uint64_t start;
	uint64_t len;
};

/*
 * A reservation (delayed allocation): a number of blocks promised to one
 * writer but not yet placed. Caller-owned; zero-initialise it (or use
 * BALLOC_RESV_INIT) before first use.
 *
 * - balloc_reserve() adds blocks to it. They stop being available to
 *   everyone else at once (statfs-style "available" drops; an allocation
 *   without this reservation that would eat into them fails -ENOSPC), but
 *   no particular block is set aside: placement happens later.
 * - An allocation made with the reservation (balloc_alloc / balloc_alloc_at
 *   with @resv non-NULL) is charged to it first: of the blocks it gets,
 *   min(got, resv->blocks) come out of the reservation, the rest out of
 *   unreserved space. Because reserved blocks are still free blocks, an
 *   allocation with min == 1 charged to a reservation holding at least one
 *   block never fails -ENOSPC for lack of space. (It may still come back
 *   shorter than asked: space can be fragmented. Ask again for the rest.)
 * - balloc_unreserve() hands back what the writer no longer needs (a
 *   delayed write that was truncated away, or the end of a writeback).
 *
 * Reservations are not serialised: they are promises to running writers and
 * do not survive a remount. Unreserve before dropping a struct balloc_resv,
 * or the allocator keeps counting its blocks as reserved.
 */
struct balloc_resv {
	uint64_t blocks;	/* blocks still reserved and not yet placed */
};
#define BALLOC_RESV_INIT { 0 }

struct balloc_ops;

/*
 * Caller-owned. nblocks and block_size may be read directly; everything
 * else only through the calls, and nothing may be written.
 */
struct balloc {
	const struct balloc_ops *ops;
	void *impl;		/* the implementation's state */
	uint64_t nblocks;	/* size of the space, in blocks */
	uint32_t block_size;	/* bytes per block */
	uint64_t nfree;		/* blocks not in use (reserved ones included) */
	uint64_t reserved;	/* sum of outstanding reservations */
};

/* --- Lifecycle --------------------------------------------------------- */

/*
 * Set up @a as an allocator of @kind ("bitmap" or "extent") over @nblocks
 * blocks of @block_size bytes, all free. @block_size must be a power of
 * two between 64 and 16 MiB (it sets the bitmap's group size; the extent
 * allocator only records it). @nblocks must be at least 1.
 * Errors: -EINVAL (unknown kind, bad sizes), -ENOMEM. On failure @a is left
 * zeroed and needs no release.
 */
int balloc_init(struct balloc *a, const char *kind, uint64_t nblocks,
		uint32_t block_size, struct mixfs_err *err);

/* Free @a's state. Safe on a zeroed struct. @a may be re-initialised. */
void balloc_release(struct balloc *a);

/* Name of @a's implementation ("bitmap" or "extent"). */
const char *balloc_kind(const struct balloc *a);

/* Names of all implementations, NULL-terminated (for tests and tools). */
extern const char *const balloc_kinds[];

/* --- Allocation -------------------------------------------------------- */

/*
 * Allocate a run of at least @min and at most @max contiguous blocks near
 * @goal and return it in *@out (out->len is how many it got). This is the
 * ext2 call "give me up to n blocks, preferably right after the file's last
 * block": ask with min = 1, get what can be had contiguously, and come back
 * for the rest with goal = out->start + out->len.
 *
 * Placement: if @goal is free (and the free run starting there is at least
 * @min long), the run starts exactly at @goal. Otherwise
 *   bitmap: the first free run of at least @min blocks after @goal, groups
 *           with no free block skipped, wrapping to block 0 (ext2's policy);
 *   extent: the first free extent after @goal that holds all of @max,
 *           wrapping; failing that the longest free extent (if >= @min).
 * @goal >= nblocks is taken as 0 (a goal one past the last block is normal
 * for a file ending at the end of the space).
 *
 * @resv: NULL for an ordinary allocation, which may use only available
 * (free and unreserved) blocks; or a reservation to charge first (see
 * struct balloc_resv). @max is silently capped at what the caller may use.
 *
 * Errors: -EINVAL (@min == 0 or @min > @max), -ENOSPC (fewer than @min
 * blocks available to this caller, or no free run of @min blocks; nothing
 * changes, the reservation included).
 */
int balloc_alloc(struct balloc *a, struct balloc_resv *resv, uint64_t goal,
		 uint64_t min, uint64_t max, struct balloc_extent *out,
		 struct mixfs_err *err);

/*
 * Allocate one block near @goal into *@blk: balloc_alloc() with
 * min = max = 1 (an indirect block, a directory block).
 */
int balloc_alloc_one(struct balloc *a, struct balloc_resv *resv,
		     uint64_t goal, uint64_t *blk, struct mixfs_err *err);

/*
 * Allocate exactly [@start, @start + @len), all or nothing (mkfs placing
 * its metadata, a journal replaying an allocation, fsck repairing a map).
 * @resv as for balloc_alloc().
 * Errors: -EINVAL (range outside the space, @len == 0), -ENOSPC (some block
 * in the range is in use, or not enough blocks available to this caller).
 */
int balloc_alloc_at(struct balloc *a, struct balloc_resv *resv,
		    uint64_t start, uint64_t len, struct mixfs_err *err);

/*
 * Free [@start, @start + @len). Every block in the range must be in use:
 * freeing a free block is a double free and fails -EINVAL with nothing
 * freed (the message names the first free block found).
 * Errors: -EINVAL (out of range, @len == 0, double free), -ENOMEM (extent:
 * freeing a hole in the middle of used space needs a tree node).
 */
int balloc_free(struct balloc *a, uint64_t start, uint64_t len,
		struct mixfs_err *err);

/* --- Reservation (delayed allocation) ----------------------------------- */

/*
 * Add @n blocks to @resv. Fails -ENOSPC, changing nothing, if fewer than @n
 * blocks are available (free and not reserved by anyone).
 */
int balloc_reserve(struct balloc *a, struct balloc_resv *resv, uint64_t n,
		   struct mixfs_err *err);

/*
 * Give back @n blocks of @resv (all of them: n = resv->blocks).
 * Errors: -EINVAL if @n > resv->blocks.
 */
int balloc_unreserve(struct balloc *a, struct balloc_resv *resv, uint64_t n,
		     struct mixfs_err *err);

/* --- Queries ------------------------------------------------------------- */

/*
 * 1 if every block of [@start, @start + @len) is free, 0 if any is in use,
 * -EINVAL if the range is empty or outside the space. Reservations do not
 * matter here: a reserved block is still free until it is placed.
 */
int balloc_is_free(const struct balloc *a, uint64_t start, uint64_t len,
		   struct mixfs_err *err);

struct balloc_stat {
	uint64_t nblocks;
	uint32_t block_size;
	uint64_t free;		/* not in use, reserved included (f_bfree) */
	uint64_t reserved;	/* held by reservations */
	uint64_t available;	/* free - reserved (f_bavail, before any
				 * root reserve the driver keeps itself) */
	size_t mem_bytes;	/* heap held by the implementation */
};

/* Counters of @a; O(1). */
void balloc_stat(const struct balloc *a, struct balloc_stat *st);

/* Free blocks (reserved ones included); O(1). */
uint64_t balloc_count_free(const struct balloc *a);

/*
 * Length of the longest free run (0 when full).
 * Cost: extent O(1); bitmap a scan of the whole map (N/64 words), so do not
 * call it per allocation on a large bitmap.
 */
uint64_t balloc_largest_free(const struct balloc *a);

/*
 * Call @fn for each maximal free extent that ends after block @from, in
 * increasing order; the first one is clipped to start at @from. Stops when
 * @fn returns non-zero and returns that value; 0 when the extents ran out.
 * @fn must not change @a.
 */
typedef int (*balloc_extent_fn)(void *arg, uint64_t start, uint64_t len);
int balloc_iterate_free(const struct balloc *a, uint64_t from,
			balloc_extent_fn fn, void *arg);

/* --- Growth ---------------------------------------------------------- */

/*
 * Grow the space to @nblocks (> the current size); the new blocks are free.
 * Shrinking is not supported (a driver shrinks by moving data first).
 * Errors: -EINVAL (@nblocks not larger), -ENOMEM.
 */
int balloc_grow(struct balloc *a, uint64_t nblocks, struct mixfs_err *err);

/* --- Serialisation ------------------------------------------------------ */

/*
 * The serialised form (all integers little-endian):
 *
 *   0   8  magic "MXBALLOC"
 *   8   2  format version (1)
 *   10  2  encoding: 1 = bitmap (bit set = in use, LSB first, padding bits
 *          past the last block zero), 2 = extents (sorted, disjoint,
 *          non-adjacent free extents as pairs of u64 start, length)
 *   12  4  block size
 *   16  8  number of blocks
 *   24  8  number of free blocks
 *   32  8  number of free extents (extent encoding; 0 for bitmap)
 *   40  8  body length in bytes
 *   48  ..  body
 *   end 8  XXH3-64 of every byte before it
 *
 * Each implementation writes its own encoding (the bitmap writes a bitmap,
 * the extent allocator an extent list); balloc_load() reads either into
 * either kind, so a driver may change its in-memory allocator without
 * changing its format. Reservations are not part of the state.
 */
#define BALLOC_FORMAT_VERSION 1

/* Bytes balloc_serialise() needs for @a's current state. */
size_t balloc_serial_size(const struct balloc *a);

/*
 * Write @a's state into @buf (capacity @cap); *@len gets the bytes written.
 * Errors: -ERANGE if @cap < balloc_serial_size(a) (*@len gets the size
 * needed, nothing is written).
 */
int balloc_serialise(const struct balloc *a, void *buf, size_t cap,
		     size_t *len, struct mixfs_err *err);

/*
 * Set up @a (as balloc_init does) from a serialised buffer. @kind chooses
 * the implementation; NULL means the one whose encoding the buffer holds.
 * Errors: -EUCLEAN (truncated, wrong magic, unknown version or encoding,
 * checksum mismatch, or contents that contradict themselves - the message
 * says which), -EINVAL (unknown kind), -ENOMEM. On failure @a is left
 * zeroed and needs no release.
 */
int balloc_load(struct balloc *a, const char *kind, const void *buf,
		size_t len, struct mixfs_err *err);

/* --- Consistency check (fsck) ------------------------------------------ */

enum balloc_mismatch {
	/* The caller says the blocks are in use; the allocator has them free
	 * (they could be handed out twice). */
	BALLOC_IN_USE_BUT_FREE = 1,
	/* The allocator has the blocks in use; the caller lists nothing there
	 * (leaked space). */
	BALLOC_FREE_BUT_ALLOCATED = 2,
};

typedef int (*balloc_mismatch_fn)(void *arg, enum balloc_mismatch what,
				  uint64_t start, uint64_t len);

/*
 * Compare @a's map with the @n extents in @used, the blocks the caller
 * knows to be in use (every file's blocks plus the metadata). @used need
 * not be sorted and may overlap (blocks claimed twice are the caller's own
 * check; here they count as in use once). For each maximal range where the
 * two views differ, call @fn (may be NULL) with the kind of mismatch and
 * the precise range, in increasing block order.
 *
 * Returns the number of mismatching ranges (0: consistent), or the first
 * non-zero value @fn returned (which stops the check), or -EINVAL (an
 * extent of @used is empty or outside the space), -ENOMEM.
 */
int balloc_check(const struct balloc *a, const struct balloc_extent *used,
		 size_t n, balloc_mismatch_fn fn, void *arg,
		 struct mixfs_err *err);

#endif
