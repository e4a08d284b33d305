/*
 * internal.h - tablefs's on-store records and the helpers shared by its
 * files (inode.c: records and transactions; tablefs.c: operations;
 * fsck.c: checking; tablefs_fuse.c: FUSE requests).
 */
#ifndef MIXFS_TABLEFS_INTERNAL_H
#define MIXFS_TABLEFS_INTERNAL_H

#include "dirlib/dir.h"
#include "fs/tablefs/tablefs.h"

#define TFS_FORMAT_VERSION	1

/* First byte of each kind of key (see tablefs.h). */
#define TFS_K_SUPER	'S'
#define TFS_K_NEXT	'N'
#define TFS_K_INODE	'i'
#define TFS_K_DIR	'd'
#define TFS_K_XATTR	'x'
#define TFS_K_ORPHAN	'r'
#define TFS_K_DATA	'D'	/* URI of the store holding file data */

struct tfs_super {
	char magic[16];			/* "MIXFS-TABLEFS" */
	uint32_t version;		/* TFS_FORMAT_VERSION */
	uint32_t inline_max;		/* files up to this size are inline */
	unsigned char uuid[16];
};

struct tfs_time {
	int64_t sec;
	uint32_t nsec;
	uint32_t pad;
};

/* inode record flags */
#define TFS_I_OBJECT	0x01	/* data is in object <ino> of the data store */

/*
 * The inode record as stored (host byte order: mixfs stores are read on
 * the machine type that wrote them, like RocksDB's own files). Followed by
 * the inline data of a small regular file or the target of a symlink.
 */
struct tfs_irec {
	uint8_t version;		/* 1 */
	uint8_t flags;			/* TFS_I_* */
	uint16_t reserved;
	uint32_t mode;
	uint32_t uid, gid;
	uint64_t nlink;
	uint64_t size;
	uint64_t rdev;
	uint64_t parent;		/* directories: the parent directory */
	struct tfs_time atime, mtime, ctime, btime;
};

struct tfs_inode {
	uint64_t ino;
	struct tfs_irec r;
	char *tail;			/* inline data or symlink target */
	size_t tail_len;
};

/* One operation's batch; the embedded dir_kv serves dirlib. wb is NULL for
 * a read-only transaction, which reads the database directly. */
struct tfs_txn {
	struct dir_kv kv;
	struct tfs *fs;
	rocksdb_writebatch_wi_t *wb;
};

/* Object holding the event log (never an inode number: those stay below
 * FSD_CTL_INO_BASE). */
#define TFS_EVENTS_OBJ	(UINT64_MAX - 1)

/* Changes refused: opened read-only, or remounted read-only after an I/O
 * error (errors=remount-ro). */
static inline bool tfs_is_readonly(const struct tfs *fs)
{
	return fs->readonly || fs->mount.opts.readonly;
}

uint64_t tfs_get_be64(const unsigned char *p);
size_t tfs_key_ino(unsigned char *key, char kind, uint64_t ino);
size_t tfs_key_xattr(unsigned char *key, uint64_t ino, const char *name);

void tfs_txn_begin_read(struct tfs *fs, struct tfs_txn *t);
int tfs_txn_begin(struct tfs *fs, struct tfs_txn *t);
int tfs_txn_commit(struct tfs_txn *t, bool sync);
void tfs_txn_abort(struct tfs_txn *t);
/* Value of @key in *@val (free with rocksdb_free), -ENOENT if absent. */
int tfs_txn_get(struct tfs_txn *t, const void *key, size_t klen,
		char **val, size_t *vlen);
void tfs_txn_put(struct tfs_txn *t, const void *key, size_t klen,
		 const void *val, size_t vlen);
void tfs_txn_del(struct tfs_txn *t, const void *key, size_t klen);
int tfs_txn_scan(struct tfs_txn *t, const void *prefix, size_t plen,
		 const void *from, size_t flen,
		 int (*fn)(void *arg, const void *key, size_t klen,
			   const void *val, size_t vlen),
		 void *arg);

/*
 * The openable URI of the data store recorded as @rec (value of the 'D'
 * record) for the filesystem whose metadata is at @meta_uri: a dir: path
 * not starting with '/' is relative to the rocksdb: store's directory.
 * Returns a malloc'd string, NULL when out of memory.
 */
char *tfs_data_uri_resolve(const char *meta_uri, const char *rec);

/* tablefs.c, for opening and closing (open.c): free every orphan inode
 * left by an earlier mount; remove the data store's objects numbered at
 * or past the inode counter (kept by a power cut that lost their inodes).
 * Caller holds no lock and nothing else uses @fs yet (or any more). */
int tfs_free_orphans(struct tfs *fs);
int tfs_free_leftovers(struct tfs *fs);

/* --- POSIX ACLs (acl.c), on the xattr form of an ACL ---------------- */

#define TFS_ACL_ACCESS	"system.posix_acl_access"
#define TFS_ACL_DEFAULT	"system.posix_acl_default"

/* 0 if @val is a well-formed ACL in xattr form (no entries: none at
 * all), -EINVAL if not, -EOPNOTSUPP for another version. The calls below
 * take only values this accepted. */
int tfs_acl_valid(const void *val, size_t len);
/* The permission bits the access ACL @val stands for, into *@mode (other
 * bits kept). Returns 0 when the bits say all the ACL says (it need not
 * be kept), 1 when it says more. */
int tfs_acl_equiv_mode(const void *val, size_t len, uint32_t *mode);
/* chmod: owner, mask (group without a mask) and other entries of the
 * access ACL @val take the bits of @mode, in place. */
void tfs_acl_chmod(void *val, size_t len, uint32_t mode);
/* A new node: @val, a copy of the parent's default ACL, is cut down to
 * what the requested *@mode allows and *@mode to what the ACL allows, in
 * place. Returns 1 when the result must be kept as the node's access ACL,
 * 0 when the mode says it all. */
int tfs_acl_create_masq(void *val, size_t len, uint32_t *mode);

void tfs_now(struct tfs_time *t);
int tfs_inode_get(struct tfs_txn *t, uint64_t ino, struct tfs_inode *in);
int tfs_inode_put(struct tfs_txn *t, const struct tfs_inode *in);
void tfs_inode_release(struct tfs_inode *in);
int tfs_inode_resize_tail(struct tfs_inode *in, size_t n);
int tfs_inode_delete(struct tfs_txn *t, uint64_t ino);
void tfs_inode_to_stat(struct tfs *fs, const struct tfs_inode *in,
		       struct stat *st);

/* --- verifying an object's data (scrub.c; fsck reads the same way) ----- */

#define TFS_VERIFY_PIECE	(1u << 20)	/* bytes read at once */
#define TFS_VERIFY_CHUNK	4096u		/* unit damage is found in */

/*
 * One object read whole so that its store verifies every chunk: the
 * caller fills the fields up to @arg, tfs_obj_verify() the rest.
 */
struct tfs_verify {
	struct objstore *s;
	uint64_t id;
	uint64_t size;		/* bytes to read (the object's size) */
	uint64_t allocated;	/* the object's allocated bytes: reading
				 * stops once that many bytes of data (non-zero
				 * chunks) were seen, so the holes of a sparse
				 * object past its data are not read */
	unsigned char *buf;	/* TFS_VERIFY_PIECE bytes */
	/* [@off, @off + @n) read whole into @data (the end of a piece may
	 * come short: the object is shorter now). Non-zero stops the read
	 * and is returned. May be NULL. */
	int (*good)(struct tfs_verify *v, const unsigned char *data,
		    uint64_t off, size_t n);
	/* [@off, @off + @len) fails its checksum (-EBADMSG or -EUCLEAN),
	 * read again chunk by chunk; adjacent chunks come as one range.
	 * Non-zero stops the read and is returned. */
	int (*bad)(struct tfs_verify *v, uint64_t off, uint64_t len);
	void *arg;
	/* what was found */
	uint64_t chunks;	/* TFS_VERIFY_CHUNK chunks holding data */
	uint64_t chunk_end;	/* end of the last of them */
	uint64_t nbad;		/* ranges handed to bad() */
	uint64_t end;		/* where reading stopped */
	uint64_t err_off;	/* a failed read: where */
	struct mixfs_err err;	/* a failed read: why */
	/* private */
	uint64_t bad_off, bad_len;
};

/*
 * Read @v->s's object @v->id from 0 to @v->size in TFS_VERIFY_PIECE
 * pieces, as far as @v->allocated says data lies; a piece failing its
 * checksum is read again in TFS_VERIFY_CHUNK chunks to hand each damaged
 * range to bad(). A short read ends it (the object was cut). Returns 0,
 * a callback's non-zero result, or the negative errno of a read that
 * failed otherwise (-ENOENT: the object is gone; err_off and err say
 * where and why). Takes no lock; the store is read as it is, so a range
 * is only called bad when two reads of it failed.
 */
int tfs_obj_verify(struct tfs_verify *v);

/* --- scrub (scrub.c) ------------------------------------------------------ */

/*
 * The answer to the control command "scrub ARGS" (ARGS: "start
 * [rate=MIB]", "status", "cancel"; nothing: the usage). -EINVAL for a
 * malformed command, and those of the calls in tablefs.h.
 */
int tfs_scrub_ctl(struct tfs *fs, const char *args, struct fsd_buf *out,
		  struct mixfs_err *err);
/* True in the scrub's thread: it reports what it finds and repairs itself,
 * with more to say than the stores' warning hooks. */
bool tfs_in_scrub(void);

int tfs_super_read(struct tfs *fs, struct mixfs_err *err);
void tfs_super_write(struct tfs_txn *t, const unsigned char uuid[16],
		     uint32_t inline_max);
void tfs_next_ino_write(struct tfs_txn *t, uint64_t next);

#endif
