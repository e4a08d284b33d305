/*
 * linear.h - the linear strategy's on-stream format and its in-memory
 * index, shared by linear.c (format and operations), lindex.c (the index's
 * data structures) and the tests that fuzz the record parser.
 *
 * Stream layout (all integers little-endian, like ext2):
 *
 *   block 0:  header (32 bytes) then records up to the block's end
 *   block n:  records from the block's start to its end
 *
 *   header:   "MXDL" | version u8 (1) | 3 zero bytes | options u32 |
 *             block size u32 | next cookie u64 | 8 zero bytes
 *   record:   ino u64 | cookie u64 | rec_len u16 | name_len u8 | type u8 |
 *             name (name_len bytes) | padding to a multiple of 4
 *
 * The records of a block chain from its start (or the header's end) to
 * its end exactly: each rec_len covers the record and any free space after
 * it. ino 0 marks a free record. "next cookie" is larger than every cookie
 * stored in a record; the library reserves cookies a batch at a time, so
 * it is written once per LIN_COOKIE_BATCH inserts, not on every insert.
 */
#ifndef MIXFS_DIRLIB_LINEAR_H
#define MIXFS_DIRLIB_LINEAR_H

#include "dirlib/internal.h"

#define LIN_MAGIC		"MXDL"
#define LIN_VERSION		1
#define LIN_HDR_LEN		32
#define LIN_HDR_NEXT_COOKIE	16	/* offset of the field in the header */
#define LIN_REC_HDR		20
#define LIN_REC_ALIGN		4
#define LIN_REC_MAX		(LIN_REC_HDR + DIR_NAME_MAX + 1)
#define LIN_BLOCK_MIN		512
#define LIN_BLOCK_MAX		32768	/* rec_len is 16 bits */
#define LIN_BLOCK_DEFAULT	4096
#define LIN_COOKIE_BATCH	256

static inline uint32_t lin_rec_size(unsigned namelen)
{
	return (LIN_REC_HDR + namelen + LIN_REC_ALIGN - 1) &
	       ~(uint32_t)(LIN_REC_ALIGN - 1);
}

/* One record as the parser sees it. */
struct lin_rec {
	uint64_t off;		/* in the stream */
	uint32_t pos;		/* in its block */
	uint64_t ino, cookie;
	uint16_t rec_len;
	uint8_t name_len, type;
	const char *name;	/* points into the block buffer */
};

/*
 * Walk the records of one block (@blk, @bs bytes, at stream offset @base;
 * records start at @start, LIN_HDR_LEN in block 0), checking each: a
 * record header or record past the block's end, rec_len zero, unaligned
 * or too short, a name past its record, a bad name or cookie -> -EUCLEAN
 * with the offset in the message. Calls @fn for every record, free ones
 * included, until it returns non-zero. Pure: no I/O, no allocation.
 */
int lin_parse_block(const unsigned char *blk, uint32_t bs, uint64_t base,
		    uint32_t start, unsigned opts,
		    int (*fn)(void *arg, const struct lin_rec *r), void *arg,
		    struct mixfs_err *err);

/* Bytes a new record of @namelen can take from @r (0 if none). */
static inline uint32_t lin_rec_slack(const struct lin_rec *r)
{
	if (!r->ino)
		return r->rec_len;
	return r->rec_len - lin_rec_size(r->name_len);
}

/* --- The in-memory index (lindex.c) -------------------------------------- */

struct lin_slot {
	uint64_t off;		/* 0 = empty slot */
	uint64_t hash;
};

struct lin_cref {
	uint64_t cookie;
	uint64_t off;		/* 0 = removed */
};

struct lin_index {
	uint32_t bs;
	unsigned opts;
	uint64_t nblocks;
	uint64_t cookie_next;	/* next cookie to give */
	uint64_t cookie_limit;	/* next cookie as written in the header */
	/* name hash -> record offset, linear probing */
	struct lin_slot *tab;
	size_t tab_cap, live;
	/* live records in cookie order; removal leaves holes (off 0) */
	struct lin_cref *cook;
	size_t cook_n, cook_cap, cook_dead;
	/* max tree over the blocks' largest free slot */
	uint16_t *tree;
	size_t leaves;
};

struct lin_index *lin_index_new(uint32_t bs, unsigned opts);
void lin_index_free(struct lin_index *x);
uint64_t lin_hash(const char *key, size_t len);
int lin_index_add(struct lin_index *x, uint64_t hash, uint64_t off);
void lin_index_del(struct lin_index *x, uint64_t hash, uint64_t off);
/* Start or continue a probe for @hash: *@i is the slot to look at (start
 * with SIZE_MAX). Returns the next candidate offset with the same hash,
 * or 0 when there are no more. */
uint64_t lin_index_probe(const struct lin_index *x, uint64_t hash,
			 size_t *i);
/* Append (cookie must exceed every cookie added before). */
int lin_cook_append(struct lin_index *x, uint64_t cookie, uint64_t off);
/* Sort after a build; -EEXIST if two records share a cookie (*@dup). */
int lin_cook_sort(struct lin_index *x, uint64_t *dup);
void lin_cook_del(struct lin_index *x, uint64_t cookie);
/* Index of the first cookie > @after. */
size_t lin_cook_after(const struct lin_index *x, uint64_t after);
/* Make room for @nblocks blocks in the free tree. */
int lin_tree_grow(struct lin_index *x, uint64_t nblocks);
void lin_tree_set(struct lin_index *x, uint64_t block, uint32_t avail);
/* First block with a free slot of at least @need bytes, or UINT64_MAX. */
uint64_t lin_tree_find(const struct lin_index *x, uint32_t need);

#endif
