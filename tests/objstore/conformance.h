/*
 * conformance.h - helpers for the object-store conformance suite: the list
 * of backends it runs against, a per-case store in a fresh directory, and
 * whole-store snapshots to prove that a failed call changed nothing.
 *
 * Deliberately backend-neutral: nothing here knows how a backend stores
 * data; backend-specific tests live in their own programs.
 */
#ifndef MIXFS_TEST_CONFORMANCE_H
#define MIXFS_TEST_CONFORMANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "objstore/objstore.h"

struct backend {
	const char *name;	/* in test names: "mem", "rocksdb", ... */
	/* printf format of the URI taking two strings: the case's directory
	 * and the query ("" or "?size=N"); mem: skips the first with %.0s. */
	const char *uri_fmt;
	bool persistent;	/* must claim OBJSTORE_CAP_PERSISTENT */
	bool atomic_txn;	/* must claim OBJSTORE_CAP_ATOMIC_TXN */
	bool atomic_reads;	/* a read never sees half of a write */
};

/* The state of one (backend, behaviour) case. */
struct ctx {
	const struct backend *b;
	char dir[256];		/* fresh directory, removed at teardown */
	struct objstore *s;	/* open store */
	unsigned caps;
};

/* Open (again) the case's store with @query ("" or "?size=N"). */
int ctx_open(struct ctx *c, const char *query);
void ctx_close(struct ctx *c);

/* --- snapshots ---------------------------------------------------------- */

struct snap_attr {
	char *name;
	unsigned char *val;
	size_t len;
};

struct snap_obj {
	uint64_t id, size, allocated;
	unsigned char *data;	/* size bytes */
	struct snap_attr *attrs;
	size_t nattrs;
};

struct snapshot {
	struct snap_obj *objs;
	size_t n;
	uint64_t used, objects;
};

/* Take every object's size, data and attributes (objects must be small). */
void snapshot_take(struct objstore *s, struct snapshot *snap);
/* Fail the test, naming the first difference, unless @a equals @b. */
void snapshot_assert_equal(const struct snapshot *a, const struct snapshot *b,
			   const char *what);
void snapshot_free(struct snapshot *snap);

/* --- patterns ----------------------------------------------------------- */

/* Deterministic bytes: the value at @off of pattern @seed. */
void pattern_fill(unsigned char *buf, size_t len, uint64_t seed, uint64_t off);
/* Index of the first byte of @buf that differs from @want, or -1. */
long first_diff(const unsigned char *buf, const unsigned char *want,
		size_t len);
/* Index of the first non-zero byte, or -1. */
long first_nonzero(const unsigned char *buf, size_t len);

/* Seed for random cases: MIXFS_SEED or the time; printed once. */
uint64_t test_seed(void);
uint64_t rnd_next(uint64_t *state);

#endif
