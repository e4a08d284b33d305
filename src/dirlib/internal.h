/*
 * internal.h - what dir.c shares with the two strategies (linear.c, kv.c)
 * and with the tests that reach below the public calls (the record parser
 * fuzzer). Not installed; drivers use dir.h only.
 */
#ifndef MIXFS_DIRLIB_INTERNAL_H
#define MIXFS_DIRLIB_INTERNAL_H

#include "dirlib/dir.h"

/*
 * One strategy. dir.c checks names and arguments before calling any of
 * these, so a strategy sees only valid names (and, in a casefold
 * directory, valid UTF-8) and a non-zero inode number.
 */
struct dir_strategy {
	const char *name;
	int (*lookup)(struct dir *d, const char *name, size_t len,
		      struct dir_entry *e, struct mixfs_err *err);
	int (*insert)(struct dir *d, const char *name, size_t len,
		      uint64_t ino, unsigned char type, struct mixfs_err *err);
	int (*remove)(struct dir *d, const char *name, size_t len,
		      struct dir_entry *e, struct mixfs_err *err);
	int (*replace)(struct dir *d, const char *name, size_t len,
		       uint64_t ino, unsigned char type, struct dir_entry *old,
		       struct mixfs_err *err);
	int (*count)(struct dir *d, uint64_t *count, struct mixfs_err *err);
	int (*iterate)(struct dir *d, uint64_t after,
		       int (*fn)(void *arg, const struct dir_entry *e),
		       void *arg, struct mixfs_err *err);
	int (*destroy)(struct dir *d, struct mixfs_err *err);
};

extern const struct dir_strategy dir_linear_strategy;
extern const struct dir_strategy dir_kv_strategy;

/*
 * The key under which a name is unique in @opts's directory: the name
 * itself, or its NFD case fold in a casefold directory. Writes at most
 * DIR_FOLD_MAX bytes to @out and sets *@outlen. -ENAMETOOLONG if the fold
 * is longer, -ENOMEM.
 */
int dir_fold(const char *name, size_t len, unsigned opts, char *out,
	     size_t *outlen, struct mixfs_err *err);

/* The same check as dir_name_check() minus the message, for records read
 * back from storage (a bad stored name is corruption, not a user error). */
bool dir_name_ok(const char *name, size_t len, unsigned opts);

static inline void dir_put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static inline uint64_t dir_get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void dir_put_le16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static inline uint16_t dir_get_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline void dir_put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

static inline uint32_t dir_get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void dir_put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

static inline uint64_t dir_get_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#endif
