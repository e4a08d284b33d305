/*
 * dir.h - directory management: the manual.
 *
 * The library keeps the entries of one directory (name -> inode number and
 * file type) and does not know where the directory lives. The driver hands
 * it storage through a small callback table:
 *
 *   linear  a byte stream (read / write / size / truncate): ext2- and
 *           exofs-style variable-length records; the stream may be an
 *           object, a run of allocated blocks or memory.
 *   kv      ordered keys (get / put / del / scan): TableFS-style entries
 *           keyed by (directory inode, name), for a store such as RocksDB.
 *
 * A struct dir is a caller-owned handle on one directory, set up cheaply per
 * operation with dir_linear_init() or dir_kv_init() and released with
 * dir_release(). Everything else is the same for both strategies.
 *
 * Locking: the caller serialises every call that changes a directory
 * against every other call on the same directory (one lock per directory
 * inode in the driver). Calls on different directories need no lock from
 * the library's side, except where the driver's storage needs one.
 *
 * Errors: 0 or a negative errno; a struct mixfs_err (may be NULL) gets a
 * sentence for a person. -EUCLEAN means the stored directory is corrupt and
 * the message says where.
 */
#ifndef MIXFS_DIRLIB_DIR_H
#define MIXFS_DIRLIB_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

#define DIR_NAME_MAX 255

/* File types stored in entries: the DT_* values of <dirent.h>. */

/* Per-directory options, fixed when the directory is created. */
enum {
	/* Lookups fold case: two names are the same entry when their
	 * canonical decompositions (NFD) are equal after Unicode full case
	 * folding (libunistring's u8_casefold with UNINORM_NFD, as ext4's
	 * casefold does). The name is stored and listed as given. Names
	 * must be valid UTF-8 in such a directory (-EILSEQ otherwise). */
	DIR_OPT_CASEFOLD = 1u << 0,
};
#define DIR_OPT_ALL	DIR_OPT_CASEFOLD

/* Longest folded name (key of a casefold entry); a name whose folded form
 * is longer fails -ENAMETOOLONG. No 255-byte name comes near it. */
#define DIR_FOLD_MAX	1024

/* Readdir cookies 0 and 1 are never given to entries: the driver uses
 * them for "." and "..". Entry cookies start at DIR_COOKIE_FIRST. */
#define DIR_COOKIE_FIRST 2
/* Cookies stay below 2^63 so that they fit a signed 64-bit offset (FUSE,
 * NFS, off_t). An insert that would need a larger one fails -ENOSPC. */
#define DIR_COOKIE_MAX	((UINT64_C(1) << 63) - 1)

struct dir_entry {
	uint64_t ino;
	uint64_t cookie;		/* stable position for readdir */
	unsigned char type;		/* DT_* */
	uint16_t namelen;
	char name[DIR_NAME_MAX + 1];	/* NUL-terminated, as stored */
};

/* --- Storage supplied by the driver ------------------------------------ */

/*
 * Linear strategy: a byte stream. The driver embeds struct dir_stream in
 * its own structure and recovers it with container_of() in the callbacks.
 * read returns bytes read (short only at the end); write writes all or
 * fails; every callback returns a negative errno on failure.
 */
struct dir_stream;
struct dir_stream_ops {
	ssize_t (*read)(struct dir_stream *s, uint64_t off, void *buf,
			size_t len);
	int (*write)(struct dir_stream *s, uint64_t off, const void *buf,
		     size_t len);
	int (*size)(struct dir_stream *s, uint64_t *size);
	int (*truncate)(struct dir_stream *s, uint64_t size);
};
struct dir_stream {
	const struct dir_stream_ops *ops;
	/* Block size of the stream's records (e.g. 4096); records never
	 * cross a block boundary. 0 means 4096. */
	uint32_t block_size;
	/* The in-memory index (a name-hash table, the live entries in cookie
	 * order, and each block's largest free slot) belongs to the stream:
	 * it is built by the first call that needs it (lookup, insert,
	 * remove, replace, count, is_empty, iterate: one pass over the
	 * stream), kept up to date by every change made through this
	 * library, and lives as long as the driver keeps this structure. A
	 * driver that keeps it in its in-memory inode keeps the index warm;
	 * one that sets the stream up per operation pays the pass each time.
	 * Zero it (NULL) before first use. Costs about 50 bytes per entry. */
	void *index;
};

/*
 * Drop the stream's in-memory index (if any); the next call rebuilds it.
 * Call it when the structure goes away, and whenever the stream's bytes
 * changed other than through this library -- in particular after the
 * driver discards writes that a dir_* call made (an aborted transaction):
 * the index would otherwise describe records that are not there.
 */
void dir_stream_release(struct dir_stream *s);

/*
 * Key-value strategy: ordered keys (byte-wise, like RocksDB's default
 * comparator). The driver embeds struct dir_kv and recovers itself with
 * container_of(). A driver that runs each operation in a write batch routes
 * put and del into the batch and makes get and scan see the batch (RocksDB
 * WriteBatchWithIndex), so one filesystem operation is one atomic write.
 *
 * get: copy the value into @val (capacity @cap), set *@len to its length;
 *      -ENOENT if absent; -ERANGE if @cap is too small (with *@len set).
 * scan: call @fn for each key >= @from that starts with @prefix, in order,
 *      until @fn returns non-zero (which scan then returns) or keys run out
 *      (returns 0).
 */
struct dir_kv;
struct dir_kv_ops {
	int (*get)(struct dir_kv *kv, const void *key, size_t klen,
		   void *val, size_t cap, size_t *len);
	int (*put)(struct dir_kv *kv, const void *key, size_t klen,
		   const void *val, size_t vlen);
	int (*del)(struct dir_kv *kv, const void *key, size_t klen);
	int (*scan)(struct dir_kv *kv, const void *prefix, size_t plen,
		    const void *from, size_t flen,
		    int (*fn)(void *arg, const void *key, size_t klen,
			      const void *val, size_t vlen),
		    void *arg);
};
struct dir_kv {
	const struct dir_kv_ops *ops;
	/* First byte of every key the library writes, so the driver can
	 * keep other records in the same key space. */
	unsigned char prefix;
};

/* --- The directory handle ----------------------------------------------- */

struct dir {
	const struct dir_strategy *strategy;
	union {
		struct dir_stream *stream;
		struct dir_kv *kv;
	};
	uint64_t ino;		/* the directory's inode number (kv keys) */
	unsigned opts;		/* DIR_OPT_* read from the directory header */
};

/*
 * Create a new, empty directory in the given storage (writes the header
 * that records @opts). The storage must be empty: an empty stream, or no
 * keys for @ino. -EINVAL for unknown options.
 */
int dir_linear_create(struct dir_stream *s, unsigned opts,
		      struct mixfs_err *err);
int dir_kv_create(struct dir_kv *kv, uint64_t ino, unsigned opts,
		  struct mixfs_err *err);

/*
 * Set up @d on an existing directory (reads its header: -EUCLEAN if it is
 * missing or corrupt). Cheap: no scan of the entries.
 */
int dir_linear_init(struct dir *d, struct dir_stream *s,
		    struct mixfs_err *err);
int dir_kv_init(struct dir *d, struct dir_kv *kv, uint64_t ino,
		struct mixfs_err *err);
/* Release @d (never frees the driver's storage). */
void dir_release(struct dir *d);

/*
 * Delete every record of the directory from its storage (for rmdir, after
 * the driver checked dir_is_empty()). For linear, truncates the stream to 0.
 */
int dir_destroy(struct dir *d, struct mixfs_err *err);

/* --- Names -------------------------------------------------------------- */

/*
 * Check a name for an entry: -EINVAL for empty, ".", "..", or a name with
 * '/' or NUL; -ENAMETOOLONG past DIR_NAME_MAX bytes; -EILSEQ for invalid
 * UTF-8 when @opts has DIR_OPT_CASEFOLD. Every call below that takes a name
 * checks it this way first.
 */
int dir_name_check(const char *name, size_t len, unsigned opts,
		   struct mixfs_err *err);

/* --- Entries ------------------------------------------------------------ */

/* Find @name; fill *@e. -ENOENT if absent. */
int dir_lookup(struct dir *d, const char *name, size_t len,
	       struct dir_entry *e, struct mixfs_err *err);

/* Add an entry. -EEXIST if the name (folded, in a casefold directory) is
 * present; -ENOSPC if the storage is full (or the cookies ran out);
 * -EINVAL if @ino is 0 (the linear format marks free records with inode
 * 0). The new entry's cookie is larger than every cookie the directory
 * has given before. */
int dir_insert(struct dir *d, const char *name, size_t len, uint64_t ino,
	       unsigned char type, struct mixfs_err *err);

/* Remove the entry @name and return it in *@e (may be NULL). -ENOENT. */
int dir_remove(struct dir *d, const char *name, size_t len,
	       struct dir_entry *e, struct mixfs_err *err);

/* Point the existing entry @name at @ino/@type (rename over an existing
 * name). Keeps its cookie. Returns the old entry in *@old (may be NULL). */
int dir_replace(struct dir *d, const char *name, size_t len, uint64_t ino,
		unsigned char type, struct dir_entry *old,
		struct mixfs_err *err);

/* Sets *@empty. */
int dir_is_empty(struct dir *d, bool *empty, struct mixfs_err *err);
/* Number of entries (not counting "." and ".."). */
int dir_count(struct dir *d, uint64_t *count, struct mixfs_err *err);

/*
 * Iterate entries with cookie > @after in cookie order (pass
 * DIR_COOKIE_FIRST - 1 to start), calling @fn for each until it returns
 * non-zero (returned by dir_iterate) or the entries run out (0). Resuming
 * with the cookie of the last entry handled yields every entry that existed
 * for the whole iteration exactly once, whatever was inserted or removed in
 * between. @fn must not change the directory.
 */
int dir_iterate(struct dir *d, uint64_t after,
		int (*fn)(void *arg, const struct dir_entry *e), void *arg,
		struct mixfs_err *err);

/* --- Rename planning ---------------------------------------------------- */

enum {
	DIR_RENAME_NOREPLACE = 1u << 0,	/* as RENAME_NOREPLACE */
	DIR_RENAME_EXCHANGE  = 1u << 1,	/* as RENAME_EXCHANGE */
};

/*
 * What the driver knows of the two ends of a rename. The driver looks the
 * names up (dir_lookup) and fills this in; @dst_exists false means the
 * destination name is free.
 */
struct dir_rename_args {
	uint64_t src_ino;
	unsigned char src_type;
	bool dst_exists;
	uint64_t dst_ino;
	unsigned char dst_type;
	bool dst_is_empty_dir;	/* only read if dst is a directory */
	unsigned flags;		/* DIR_RENAME_* */
	/*
	 * Loop check: called for the destination's parent and then each of its
	 * ancestors, until the root; returns the parent of @ino in *@parent
	 * (the root returns itself). For an EXCHANGE of a directory it walks
	 * up from the source's parent the same way. May be NULL when neither
	 * end is a directory or both parents are the same directory. An error
	 * it returns is returned by dir_rename_plan(); a chain that does not
	 * reach the root within 1 << 20 steps fails -EUCLEAN.
	 */
	int (*parent_of)(void *arg, uint64_t ino, uint64_t *parent);
	void *arg;
	uint64_t src_dir_ino, dst_dir_ino, root_ino;
};

/* The plan: what the driver must do, in its own transaction. */
struct dir_rename_plan {
	bool noop;		/* src and dst are the same inode: do nothing */
	bool remove_src;	/* dir_remove(src_dir, src_name) */
	bool insert_dst;	/* dir_insert(dst_dir, dst_name, src) */
	bool replace_dst;	/* dir_replace(dst_dir, dst_name, src) */
	bool replace_src;	/* EXCHANGE: dir_replace(src_dir, src_name, dst) */
	bool drop_dst_inode;	/* the old dst loses a link (nlink--, rmdir) */
	bool reparent_src;	/* src is a dir moving between parents */
	bool reparent_dst;	/* EXCHANGE of a dir between parents */
};

/*
 * Check the rename rules and produce a plan. Errors: -EEXIST (NOREPLACE
 * and dst exists), -ENOENT (EXCHANGE and dst missing), -EINVAL (both
 * NOREPLACE and EXCHANGE, an unknown flag, or moving a directory into its
 * own subtree, either way for EXCHANGE), -ENOTDIR (dir over non-dir),
 * -EISDIR (non-dir over dir), -ENOTEMPTY. Checked in this order, as Linux
 * does: flags, existence, same inode (noop), loops, types. Pure: touches
 * no storage except through @parent_of.
 */
int dir_rename_plan(const struct dir_rename_args *a,
		    struct dir_rename_plan *plan, struct mixfs_err *err);

#endif
