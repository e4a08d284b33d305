/*
 * backend.h - what an objstore backend implements.
 *
 * A backend is one .c file ending in a `const struct objstore_ops` table.
 * Its store structure embeds struct objstore (the anchor) and gets back to
 * itself with container_of(). objstore.c checks arguments common to every
 * backend before calling an op (non-zero id, offset + length within
 * OBJSTORE_MAX_SIZE, attribute name and value sizes, read-only stores), so
 * backends need not repeat those checks.
 *
 * Optional ops may be NULL:
 * - txn_commit: objstore.c then applies the steps one by one with the other
 *   ops (not atomic: the backend must not claim OBJSTORE_CAP_ATOMIC_TXN);
 * - punch: objstore.c then writes zeros;
 * - create_fresh: objstore.c then needs nothing else, the backend must have it.
 */
#ifndef MIXFS_OBJSTORE_BACKEND_H
#define MIXFS_OBJSTORE_BACKEND_H

#include "objstore/objstore.h"

struct objstore {
	const struct objstore_ops *ops;
	unsigned caps;			/* OBJSTORE_CAP_* */
	unsigned open_flags;		/* OBJSTORE_OPEN_* as opened */
	unsigned char uuid[16];
	uint32_t format_version;
};

enum objstore_step_kind {
	OBJSTORE_STEP_CREATE,
	OBJSTORE_STEP_REMOVE,
	OBJSTORE_STEP_WRITE,
	OBJSTORE_STEP_TRUNCATE,
	OBJSTORE_STEP_SETATTR,
	OBJSTORE_STEP_RMATTR,
};

/* One transaction step. Buffers are owned by the transaction. */
struct objstore_step {
	enum objstore_step_kind kind;
	uint64_t id;
	uint64_t off;		/* WRITE: offset; TRUNCATE: new size */
	char *name;		/* SETATTR, RMATTR */
	void *buf;		/* WRITE: data; SETATTR: value */
	size_t len;
};

struct objstore_txn {
	struct objstore *store;
	struct objstore_step *steps;
	size_t nsteps, cap;
};

struct objstore_ops {
	int version;			/* 1 */
	const char *scheme;		/* "mem" for "mem:..." URIs */

	/* @rest is the URI after "scheme:", query included. Must set
	 * (*out)->ops, caps, uuid and format_version. */
	int (*open)(const char *rest, unsigned flags, struct objstore **out,
		    struct mixfs_err *err);
	int (*close)(struct objstore *s);

	int (*create)(struct objstore *s, uint64_t id, struct mixfs_err *err);
	int (*create_fresh)(struct objstore *s, uint64_t *id,
			    struct mixfs_err *err);
	int (*remove)(struct objstore *s, uint64_t id, struct mixfs_err *err);
	ssize_t (*read)(struct objstore *s, uint64_t id, uint64_t off,
			void *buf, size_t len, struct mixfs_err *err);
	int (*write)(struct objstore *s, uint64_t id, uint64_t off,
		     const void *buf, size_t len, struct mixfs_err *err);
	int (*truncate)(struct objstore *s, uint64_t id, uint64_t size,
			struct mixfs_err *err);
	int (*punch)(struct objstore *s, uint64_t id, uint64_t off,
		     uint64_t len, struct mixfs_err *err);
	int (*stat)(struct objstore *s, uint64_t id, struct objstore_stat *st,
		    struct mixfs_err *err);
	/* objstore_seek() with @whence checked (SEEK_DATA or SEEK_HOLE).
	 * NULL: the generic code reports the whole object as data. */
	int (*seek)(struct objstore *s, uint64_t id, uint64_t off, int whence,
		    uint64_t *out, struct mixfs_err *err);
	int (*list)(struct objstore *s, uint64_t *cursor, uint64_t *ids,
		    size_t max, size_t *n, struct mixfs_err *err);

	ssize_t (*getattr)(struct objstore *s, uint64_t id, const char *name,
			   void *buf, size_t size, struct mixfs_err *err);
	int (*setattr)(struct objstore *s, uint64_t id, const char *name,
		       const void *val, size_t len, struct mixfs_err *err);
	int (*rmattr)(struct objstore *s, uint64_t id, const char *name,
		      struct mixfs_err *err);
	ssize_t (*listattr)(struct objstore *s, uint64_t id, char *buf,
			    size_t size, struct mixfs_err *err);

	int (*statfs)(struct objstore *s, struct objstore_statfs *st,
		      struct mixfs_err *err);
	int (*sync)(struct objstore *s, struct mixfs_err *err);

	/* Apply all steps of @t (already validated) atomically. */
	int (*txn_commit)(struct objstore *s, const struct objstore_txn *t,
			  struct mixfs_err *err);
};

extern const struct objstore_ops objstore_mem_ops;
extern const struct objstore_ops objstore_dir_ops;
extern const struct objstore_ops objstore_rocksdb_ops;
extern const struct objstore_ops objstore_faulty_ops;
extern const struct objstore_ops objstore_cache_ops;
#ifdef MIXFS_HAVE_RADOS
extern const struct objstore_ops objstore_rados_ops;
#endif

/*
 * URI query helpers for backends: "path?key=val&key2=val2".
 * objstore_uri_split() copies the part before '?' into a new string
 * (*@path, caller frees) and points *@query at the text after '?' (or "").
 * objstore_uri_param() finds @key in @query and copies its value into @val
 * (size @cap); returns 1 if found, 0 if absent, -EINVAL if too long.
 * objstore_uri_check_keys() fails -EINVAL (with a message) if @query holds
 * a key not in the NULL-terminated list @known.
 */
int objstore_uri_split(const char *rest, char **path, const char **query);
int objstore_uri_param(const char *query, const char *key, char *val,
		       size_t cap);
int objstore_uri_check_keys(const char *query, const char *const *known,
			    struct mixfs_err *err);

/* Apply steps one at a time through @s's ops (used when txn_commit is NULL,
 * and by wrapping backends). */
int objstore_txn_apply_steps(struct objstore *s, const struct objstore_txn *t,
			     struct mixfs_err *err);

/* Add @t's steps to @to, a transaction of another store (a wrapping
 * backend passing a transaction on whole). 0 or -errno (-ENOMEM). */
int objstore_txn_copy(struct objstore_txn *to, const struct objstore_txn *t);

#endif
