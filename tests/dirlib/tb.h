/*
 * tb.h - test backings for the directory library: the storage a driver
 * would hand it, four ways, so that one suite runs against each.
 *
 *   TB_LINEAR_MEM    linear over a growable memory buffer (with a write
 *                    fault switch)
 *   TB_LINEAR_OBJ    linear over an object of an objstore "mem:" store
 *   TB_KV_MEM        kv over a sorted in-memory table
 *   TB_KV_ROCKSDB    kv over a real RocksDB in a temporary directory, every
 *                    put/del going into a WriteBatchWithIndex and get/scan
 *                    reading through it, as tablefs does
 */
#ifndef MIXFS_TESTS_DIRLIB_TB_H
#define MIXFS_TESTS_DIRLIB_TB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dirlib/dir.h"

enum tb_kind { TB_LINEAR_MEM, TB_LINEAR_OBJ, TB_KV_MEM, TB_KV_ROCKSDB,
	       TB_KINDS };

struct tb;

extern const char *const tb_kind_name[TB_KINDS];

/* Open an empty backing of @kind; abort()s the test program on failure
 * to set up (no storage, no temp dir): that is not what is tested. */
struct tb *tb_open(enum tb_kind kind);
void tb_close(struct tb *t);
bool tb_is_linear(const struct tb *t);

/* Create directory number @n (several may share one backing: for kv they
 * are inode numbers in one key space, for linear separate streams) with
 * @opts and set up @d on it. Returns dir_*_create's error. */
int tb_create(struct tb *t, unsigned n, unsigned opts, struct dir *d,
	      struct mixfs_err *err);
/* dir_*_init for directory @n. */
int tb_init(struct tb *t, unsigned n, struct dir *d, struct mixfs_err *err);
/*
 * End the current "operation": RocksDB commits its batch and starts a new
 * one; linear drops the in-memory index when @cold so that the next call
 * rebuilds it from the stream.
 */
void tb_commit(struct tb *t, bool cold);

/* TB_KV_ROCKSDB only: throw the current batch away (an aborted
 * operation). */
void tb_abort(struct tb *t);

/* linear only: the stream of directory @n */
struct dir_stream *tb_stream(struct tb *t, unsigned n);
/* TB_LINEAR_MEM only: make write number @n from now (1 = the next) fail
 * with -EIO; 0 disables. Returns how many writes were made since the
 * last call. */
unsigned tb_fail_write(struct tb *t, unsigned n);
/* TB_LINEAR_MEM only: the raw bytes of stream @n. */
unsigned char *tb_bytes(struct tb *t, unsigned n, size_t *size);
/* kv only: number of keys stored (committed + batch) for directory @n. */
size_t tb_kv_keys(struct tb *t, unsigned n);

/* --- A memory stream usable on its own (fuzzing) ------------------------- */

struct tb_memstream {
	struct dir_stream s;
	unsigned char *buf;
	size_t size, cap;
	unsigned writes;	/* writes made */
	unsigned fail_at;	/* fail this write number (0 = never) */
};
void tb_memstream_init(struct tb_memstream *m, uint32_t block_size);
void tb_memstream_set(struct tb_memstream *m, const void *buf, size_t len);
void tb_memstream_release(struct tb_memstream *m);

/* Seed for random tests: MIXFS_SEED or the clock; printed once. */
uint64_t tb_seed(const char *test);
uint64_t tb_rand(uint64_t *state);
bool tb_long(void);

#endif
