/*
 * fsck.h - what the three parts of tablefs's checker share: fsck_scan.c
 * reads every record of the database into the tables below, fsck.c
 * compares them and decides each repair, fsck_repair.c writes the
 * decisions as one batch. Not a public header: tablefs.h declares
 * tfs_fsck(), the one entry point.
 *
 * The checker reads the rocksdb: object store's own keys too (file data
 * lives there), so it carries a copy of that backend's record layout
 * (src/objstore/rocksdb.c describes it; it stays private to the backend).
 * A change there must be made here as well; tests/tablefs/test_fsck.c
 * fails when they differ.
 *
 * A filesystem whose 'D' record names a store of its own for file data
 * (the default since mkfs --data) keeps in the rocksdb: records only the
 * event log's object; fsck_data.c reads the data store's objects through
 * the objstore API into the same table the cross-checks use, and keeps the
 * database's own objects aside (mobjs) for the store-level checks.
 */
#ifndef MIXFS_TABLEFS_FSCK_H
#define MIXFS_TABLEFS_FSCK_H

#include "fs/tablefs/internal.h"
#include "objstore/objstore_rocksdb.h"

/* --- the rocksdb: backend's records (mirror of rocksdb_internal.h) ----- */

#define FK_OBJ_MAGIC	"MIXFS-OBJSTORE"
#define FK_OK_HEADER	'H'
#define FK_OK_COUNTERS	'C'
#define FK_OK_META	'M'
#define FK_OK_DATA	'D'
#define FK_OK_ATTR	'A'
#define FK_HASH_LEN	8

struct fk_ohdr {
	char magic[16];
	uint32_t version;
	uint32_t chunk;
	unsigned char uuid[16];
	uint64_t capacity;
};

struct fk_octr {
	uint64_t next_id;
	uint64_t used;
	uint64_t objects;
};

struct fk_ometa {
	uint64_t size;
	uint64_t allocated;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t reserved;
};

/* --- dirlib's kv records (mirror of src/dirlib/kv.c) -------------------- */

#define FK_KV_HEADER	'H'
#define FK_KV_NAME	'N'
#define FK_KV_COOKIE	'C'
#define FK_KV_HDR_LEN	24
#define FK_KV_NAMEREC	17
#define FK_KV_COOKIEREC	9

/* --- what the scan found ------------------------------------------------ */

enum fk_state {
	FK_PRESENT,	/* a record is in the store */
	FK_MADE,	/* repair makes the record */
	FK_GONE,	/* repair removes the record (and its xattrs, mark) */
};

struct fk_ino {
	uint64_t ino;
	struct tfs_irec r;	/* as found, then as repair leaves it */
	size_t vlen;		/* bytes of the stored value */
	size_t tail_len;	/* tail bytes to keep (a prefix of the stored) */
	enum fk_state state;
	bool unparsed;		/* shorter than a record */
	bool tail_nul;		/* the tail holds a NUL (symlinks) */
	bool dirty;		/* record to be rewritten */
	bool orphan;		/* an orphan mark names it */
	bool orphan_put, orphan_del;
	bool has_dir;		/* directory records exist */
	bool obj_make;		/* repair makes an empty data object */
	bool reachable, assumed;
	unsigned char ent_type;	/* type an entry gives it (DT_*) */
	size_t obj;		/* index in objs, SIZE_MAX: none */
	size_t dentry;		/* directories: index of the kept name */
	uint64_t links;		/* names kept */
	uint64_t subdirs;	/* directories: subdirectories kept */
};

struct fk_ent {
	uint64_t dir, ino, cookie;
	uint64_t alt_ino;	/* a disagreeing cookie record's inode */
	unsigned char type;
	bool drop;		/* not kept */
	bool moved;		/* copied to the end of the table */
	uint16_t namelen;
	char name[DIR_NAME_MAX + 1];
};

struct fk_dir {
	uint64_t ino;
	bool hdr_seen;		/* header present */
	bool hdr_ok;		/* header present and readable */
	bool rebuild;		/* repair writes every record afresh */
	bool destroy;		/* repair removes every record */
	uint64_t count, next_cookie;
	size_t first, nent;	/* entries: ents[first .. first + nent) */
};

/* Bytes [off, off + len) of an object in a data store of its own whose
 * checksum fails. */
struct fk_bad {
	uint64_t off, len;
};

struct fk_obj {
	uint64_t id;
	bool meta_present, size_ok;
	uint64_t size, allocated;
	uint64_t chunk_sum;	/* bytes held by good chunks */
	uint64_t chunk_end;	/* end of the last good chunk's bytes */
	uint64_t nchunks;	/* good chunks */
	bool remove;		/* repair removes every key of the object */
	bool meta_dirty;	/* repair rewrites size/allocated */
	uint64_t want_size;
	struct fk_bad *bad;	/* data store of its own: failing ranges */
	size_t nbad;
};

/* A record repair removes (copied key). */
struct fk_del {
	unsigned char *key;
	size_t klen;
};

struct fk {
	rocksdb_t *db;
	rocksdb_readoptions_t *ro;
	struct fsd_buf *out;
	bool repair;
	int problems;		/* found */
	int err;		/* operational error: the check is not valid */

	uint64_t fs_records;	/* records outside the object store's */
	bool sb_present, sb_bad, sb_magic_ok, sb_inline_ok, sb_dirty;
	const char *sb_why;
	uint32_t sb_inline_max;
	unsigned char sb_uuid[16];
	bool sb_uuid_ok;
	bool next_present, next_bad, next_dirty;
	uint64_t next_ino;

	bool oh_present, oh_ok, oh_dirty;
	struct fk_ohdr oh;
	uint32_t chunk;		/* chunk size in use (maybe inferred) */
	uint32_t chunk_seen;	/* largest chunk data length seen */
	bool oc_present, oc_ok;
	struct fk_octr oc;

	struct fk_ino *inos;	/* sorted by ino */
	size_t ni, ci;
	struct fk_dir *dirs;	/* sorted by ino */
	size_t nd, cd;
	struct fk_ent *ents;
	size_t ne, ce;
	struct fk_obj *objs;	/* sorted by id */
	size_t no, co;
	struct fk_del *dels;
	size_t ndel, cdel;

	uint64_t lf;		/* /lost+found's inode, once known */

	/* File data in a store of its own (fsck_data.c). */
	const char *uri;	/* the metadata store's URI: resolves 'D' */
	bool data_rec;		/* a 'D' record names the data store */
	bool data_rec_bad;	/* ... but its value is not a URI */
	bool data_rec_put;	/* repair writes data_uri as the 'D' record */
	bool data_unknown;	/* its objects cannot be seen: not checked */
	bool data_make;		/* repair makes the store anew (missing) */
	size_t data_rec_len;
	char *data_uri;		/* the record's value */
	char *data_open;	/* ... made openable (tfs_data_uri_resolve) */
	struct objstore *data;	/* the data store while checking */
	struct fk_obj *mobjs;	/* the database's own objects, then */
	size_t nmo;
	char why[300];		/* an operational error's sentence */
};

/* --- fsck.c ------------------------------------------------------------- */

/*
 * Count one problem and write its line to c->out: the sentence from @fmt;
 * when repairing, followed by ": " and @fix, what repair does about it
 * (NULL: "not repaired"). Every check calls this exactly once per problem.
 */
void fk_problem(struct fk *c, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Note that memory ran out (c->err, the whole check fails); -ENOMEM. */
int fk_nomem(struct fk *c);
/* @arr with room for element @n (capacity *@cap, doubled as needed), or
 * NULL (out of memory, noted; @arr unchanged and still owned). */
void *fk_grow(struct fk *c, void *arr, size_t *cap, size_t n, size_t size);
/* The tables' entries by number, NULL if absent. Adding to a table may
 * move it: pointers from these are good until the next addition. */
struct fk_ino *fk_ino_find(struct fk *c, uint64_t ino);
struct fk_obj *fk_obj_find(struct fk *c, uint64_t id);
struct fk_dir *fk_dir_find(struct fk *c, uint64_t ino);
/* "regular file", "directory", ... for messages; whether @mode has one of
 * the seven file types. */
const char *fk_type_name(uint32_t mode);
bool fk_type_ok(uint32_t mode);
/*
 * The whole check of c->db: scan, compare, and (c->repair) decide each
 * fix, without writing anything. Problems are counted in c->problems and
 * written to c->out. Returns 0, or the operational error (c->err) that
 * makes the check worthless. The caller owns @c: fk_release() it.
 */
int fk_analyse(struct fk *c);
void fk_release(struct fk *c);

/* --- fsck_scan.c -------------------------------------------------------- */

/* Read every record into the tables, judging each on its own. 0 or -errno
 * (an unreadable database, out of memory). */
int fk_scan(struct fk *c);
/* The object store's header and counters against the objects found. */
void fk_check_store(struct fk *c);
/* The rocksdb: backend's chunk checksum (mirror of chunk_hash()). */
uint64_t fk_chunk_hash(const void *data, size_t len, uint64_t id,
		       uint64_t idx);
void fk_put_be64(unsigned char *p, uint64_t v);

/* --- fsck_data.c -------------------------------------------------------- */

/* The value of a 'D' record (a key of one byte). 0 or -ENOMEM. */
int fk_data_record(struct fk *c, const unsigned char *v, size_t vlen);
/*
 * After the pass over the database: when file data lives in a store of
 * its own, move the database's objects to c->mobjs and fill c->objs from
 * the data store (every object read, so checksums are verified), pointing
 * the inodes at them. Reports a record or store that cannot be used.
 * 0 or the operational error (c->err, c->why).
 */
int fk_data_load(struct fk *c);
/*
 * Whether @o, an object of a data store of its own with no inode, is a
 * crash's harmless leftover: its id is at or past the inode counter, so
 * the batch that made its inode never became durable (the two stores are
 * ordered only by fsync). Nothing refers to it; the next mount removes
 * it, and an inode given its number starts the object afresh.
 */
bool fk_data_leftover(struct fk *c, const struct fk_obj *o);
/* Report the failing ranges of the data store's objects that are kept. */
void fk_check_data_ranges(struct fk *c);
/* The database's own objects when data lives elsewhere: only the event
 * log belongs there. */
void fk_check_meta_objects(struct fk *c);
/* The objects whose records the rocksdb: store holds (c->objs, or
 * c->mobjs when data lives elsewhere) and their number. */
struct fk_obj *fk_store_objs(struct fk *c, size_t *n);
/* Write repair's decisions about the data store: objects removed, cut,
 * extended, made; failing ranges punched. Made before the database's
 * batch, each change on its own: an interrupted repair leaves what the
 * next check finds and finishes. 0 or -errno (c->why says what failed). */
int fk_data_apply(struct fk *c);
/* Close the data store and free what fk_data_load() made. */
void fk_data_release(struct fk *c);

/* --- fsck_repair.c ------------------------------------------------------ */

/* Write every decision of a repairing fk_analyse() as one synced batch.
 * 0, or -errno with nothing written. */
int fk_apply(struct fk *c);
/*
 * tfs_fsck() on a database the caller opened (and closes) from the store
 * @uri (which places a data store named relative to it): the same check,
 * repair and check again. For tests, which open a store once per case
 * instead of once per call. Returns as tfs_fsck().
 */
int fk_run(rocksdb_t *db, const char *uri, bool repair, struct fsd_buf *out,
	   struct mixfs_err *err);

#endif
