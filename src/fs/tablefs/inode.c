/*
 * inode.c - tablefs's records in RocksDB: write-batch transactions, inode
 * records, the dirlib key-value glue, and the superblock.
 *
 * Everything that turns a filesystem operation into RocksDB keys lives
 * here; tablefs.c holds the operations themselves and never builds a key.
 */
#include "fs/tablefs/internal.h"
#include "events/events.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- keys --------------------------------------------------------------- */

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

uint64_t tfs_get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

size_t tfs_key_ino(unsigned char *key, char kind, uint64_t ino)
{
	key[0] = (unsigned char)kind;
	put_be64(key + 1, ino);
	return 9;
}

size_t tfs_key_xattr(unsigned char *key, uint64_t ino, const char *name)
{
	size_t n = strlen(name);

	tfs_key_ino(key, TFS_K_XATTR, ino);
	memcpy(key + 9, name, n);
	return 9 + n;
}

/* --- transactions ------------------------------------------------------- */

static struct tfs_txn *txn_of(struct dir_kv *kv)
{
	return container_of(kv, struct tfs_txn, kv);
}

static int map_rocksdb_error(char *errstr)
{
	int ret = -EIO;

	if (errstr && (strstr(errstr, "No space") ||
		       strstr(errstr, "NoSpace")))
		ret = -ENOSPC;
	rocksdb_free(errstr);
	return ret;
}

void tfs_meta_faults(struct tfs *fs, uint64_t nth)
{
	__atomic_store_n(&fs->meta_calls, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&fs->meta_fail_at, nth, __ATOMIC_RELAXED);
}

uint64_t tfs_meta_calls(struct tfs *fs)
{
	return __atomic_load_n(&fs->meta_calls, __ATOMIC_RELAXED);
}

/* Whether this RocksDB call is the one tfs_meta_faults() fails: one load
 * of a flag when no test asked. */
static bool meta_fault(struct tfs *fs)
{
	uint64_t at = __atomic_load_n(&fs->meta_fail_at, __ATOMIC_RELAXED);

	return at && __atomic_add_fetch(&fs->meta_calls, 1,
					__ATOMIC_RELAXED) == at;
}

int tfs_txn_get(struct tfs_txn *t, const void *key, size_t klen,
		char **val, size_t *vlen)
{
	char *errstr = NULL;
	char *v;

	if (meta_fault(t->fs))
		return -EIO;
	if (t->wb)
		v = rocksdb_writebatch_wi_get_from_batch_and_db(t->wb,
			t->fs->db, t->fs->ropts, key, klen, vlen, &errstr);
	else
		v = rocksdb_get(t->fs->db, t->fs->ropts, key, klen, vlen,
				&errstr);
	if (errstr)
		return map_rocksdb_error(errstr);
	if (!v)
		return -ENOENT;
	*val = v;
	return 0;
}

void tfs_txn_put(struct tfs_txn *t, const void *key, size_t klen,
		 const void *val, size_t vlen)
{
	rocksdb_writebatch_wi_put(t->wb, key, klen, val, vlen);
}

void tfs_txn_del(struct tfs_txn *t, const void *key, size_t klen)
{
	rocksdb_writebatch_wi_delete(t->wb, key, klen);
}

int tfs_txn_scan(struct tfs_txn *t, const void *prefix, size_t plen,
		 const void *from, size_t flen,
		 int (*fn)(void *arg, const void *key, size_t klen,
			   const void *val, size_t vlen),
		 void *arg)
{
	rocksdb_iterator_t *it;
	char *errstr = NULL;
	int ret = 0;

	if (meta_fault(t->fs))
		return -EIO;
	it = rocksdb_create_iterator(t->fs->db, t->fs->ropts);
	if (t->wb)	/* takes over the base iterator */
		it = rocksdb_writebatch_wi_create_iterator_with_base(t->wb, it);
	rocksdb_iter_seek(it, from, flen);
	while (!ret && rocksdb_iter_valid(it)) {
		size_t kl, vl;
		const char *k = rocksdb_iter_key(it, &kl);
		const char *v;

		if (kl < plen || memcmp(k, prefix, plen))
			break;
		v = rocksdb_iter_value(it, &vl);
		ret = fn(arg, k, kl, v, vl);
		rocksdb_iter_next(it);
	}
	rocksdb_iter_get_error(it, &errstr);
	if (errstr && !ret)
		ret = map_rocksdb_error(errstr);
	else
		rocksdb_free(errstr);
	rocksdb_iter_destroy(it);
	return ret;
}

static int kv_get(struct dir_kv *kv, const void *key, size_t klen,
		  void *val, size_t cap, size_t *len)
{
	char *v;
	int ret = tfs_txn_get(txn_of(kv), key, klen, &v, len);

	if (ret)
		return ret;
	if (*len > cap) {
		rocksdb_free(v);
		return -ERANGE;
	}
	memcpy(val, v, *len);
	rocksdb_free(v);
	return 0;
}

static int kv_put(struct dir_kv *kv, const void *key, size_t klen,
		  const void *val, size_t vlen)
{
	struct tfs_txn *t = txn_of(kv);

	if (!t->wb)
		return -EROFS;
	tfs_txn_put(t, key, klen, val, vlen);
	return 0;
}

static int kv_del(struct dir_kv *kv, const void *key, size_t klen)
{
	struct tfs_txn *t = txn_of(kv);

	if (!t->wb)
		return -EROFS;
	tfs_txn_del(t, key, klen);
	return 0;
}

static int kv_scan(struct dir_kv *kv, const void *prefix, size_t plen,
		   const void *from, size_t flen,
		   int (*fn)(void *arg, const void *key, size_t klen,
			     const void *val, size_t vlen),
		   void *arg)
{
	return tfs_txn_scan(txn_of(kv), prefix, plen, from, flen, fn, arg);
}

static const struct dir_kv_ops tfs_kv_ops = {
	.get = kv_get,
	.put = kv_put,
	.del = kv_del,
	.scan = kv_scan,
};

void tfs_txn_begin_read(struct tfs *fs, struct tfs_txn *t)
{
	memset(t, 0, sizeof(*t));
	t->fs = fs;
	t->kv.ops = &tfs_kv_ops;
	t->kv.prefix = TFS_K_DIR;
}

int tfs_txn_begin(struct tfs *fs, struct tfs_txn *t)
{
	tfs_txn_begin_read(fs, t);
	t->wb = rocksdb_writebatch_wi_create(0, 1);
	return t->wb ? 0 : -ENOMEM;
}

int tfs_txn_commit(struct tfs_txn *t, bool sync)
{
	char *errstr = NULL;

	if (meta_fault(t->fs)) {
		tfs_txn_abort(t);
		return -EIO;
	}
	rocksdb_write_writebatch_wi(t->fs->db,
		sync ? t->fs->wopts_sync : t->fs->wopts, t->wb, &errstr);
	rocksdb_writebatch_wi_destroy(t->wb);
	t->wb = NULL;
	return errstr ? map_rocksdb_error(errstr) : 0;
}

void tfs_txn_abort(struct tfs_txn *t)
{
	if (t->wb)
		rocksdb_writebatch_wi_destroy(t->wb);
	t->wb = NULL;
}

/* --- inodes ------------------------------------------------------------- */

void tfs_now(struct tfs_time *t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	t->sec = ts.tv_sec;
	t->nsec = (uint32_t)ts.tv_nsec;
}

int tfs_inode_get(struct tfs_txn *t, uint64_t ino, struct tfs_inode *in)
{
	unsigned char key[9];
	char *v;
	size_t vlen;
	int ret;

	memset(in, 0, sizeof(*in));
	if (ino == 0 || ino >= FSD_CTL_INO_BASE)
		return -ENOENT;
	ret = tfs_txn_get(t, key, tfs_key_ino(key, TFS_K_INODE, ino), &v,
			  &vlen);
	if (ret)
		return ret;
	if (vlen < sizeof(in->r) || *(const uint8_t *)v != 1 /* version, first byte */) {
		rocksdb_free(v);
		return -EUCLEAN;
	}
	memcpy(&in->r, v, sizeof(in->r));
	in->ino = ino;
	in->tail_len = vlen - sizeof(in->r);
	if (in->tail_len) {
		in->tail = malloc(in->tail_len);
		if (!in->tail) {
			rocksdb_free(v);
			return -ENOMEM;
		}
		memcpy(in->tail, v + sizeof(in->r), in->tail_len);
	}
	rocksdb_free(v);
	return 0;
}

int tfs_inode_put(struct tfs_txn *t, const struct tfs_inode *in)
{
	unsigned char key[9];
	size_t n = sizeof(in->r) + in->tail_len;
	char *v = malloc(n);

	if (!v)
		return -ENOMEM;
	memcpy(v, &in->r, sizeof(in->r));
	if (in->tail_len)
		memcpy(v + sizeof(in->r), in->tail, in->tail_len);
	tfs_txn_put(t, key, tfs_key_ino(key, TFS_K_INODE, in->ino), v, n);
	free(v);
	return 0;
}

void tfs_inode_release(struct tfs_inode *in)
{
	free(in->tail);
	in->tail = NULL;
	in->tail_len = 0;
}

/* Resize an inode's tail (inline data), zero-filling growth. */
int tfs_inode_resize_tail(struct tfs_inode *in, size_t n)
{
	char *p;

	if (n == in->tail_len)
		return 0;
	if (n == 0) {
		free(in->tail);
		in->tail = NULL;
		in->tail_len = 0;
		return 0;
	}
	p = realloc(in->tail, n);
	if (!p)
		return -ENOMEM;
	if (n > in->tail_len)
		memset(p + in->tail_len, 0, n - in->tail_len);
	in->tail = p;
	in->tail_len = n;
	return 0;
}

static int del_key_cb(void *arg, const void *key, size_t klen,
		      const void *val, size_t vlen)
{
	(void)val;
	(void)vlen;
	tfs_txn_del(arg, key, klen);
	return 0;
}

/* Delete the inode record, its xattrs and its orphan mark in @t. The data
 * object is the caller's to remove after the commit. */
int tfs_inode_delete(struct tfs_txn *t, uint64_t ino)
{
	unsigned char key[9];

	tfs_txn_del(t, key, tfs_key_ino(key, TFS_K_INODE, ino));
	tfs_txn_del(t, key, tfs_key_ino(key, TFS_K_ORPHAN, ino));
	tfs_key_ino(key, TFS_K_XATTR, ino);
	return tfs_txn_scan(t, key, 9, key, 9, del_key_cb, t);
}

void tfs_inode_to_stat(struct tfs *fs, const struct tfs_inode *in,
		       struct stat *st)
{
	const struct tfs_irec *r = &in->r;

	memset(st, 0, sizeof(*st));
	st->st_ino = in->ino;
	st->st_mode = r->mode;
	st->st_nlink = r->nlink;
	st->st_uid = r->uid;
	st->st_gid = r->gid;
	st->st_rdev = r->rdev;
	st->st_size = (off_t)r->size;
	st->st_blksize = 4096;
	st->st_atim.tv_sec = r->atime.sec;
	st->st_atim.tv_nsec = r->atime.nsec;
	st->st_mtim.tv_sec = r->mtime.sec;
	st->st_mtim.tv_nsec = r->mtime.nsec;
	st->st_ctim.tv_sec = r->ctime.sec;
	st->st_ctim.tv_nsec = r->ctime.nsec;
	if (r->flags & TFS_I_OBJECT) {
		struct objstore_stat os;

		/* What the object holds, where the store answers; while it
		 * is known to be down (a rados: OSD gone), the size, so that
		 * stat and ls do not wait out the store's timeout per file. */
		st->st_blocks = (blkcnt_t)((r->size + 511) / 512);
		if ((!fs->mount.events || !evt_store_down(fs->mount.events)) &&
		    !objstore_stat(fs->data, in->ino, &os, NULL))
			st->st_blocks = (blkcnt_t)((os.allocated + 511) / 512);
	} else if (S_ISDIR(r->mode)) {
		st->st_blocks = 8;
	} else {
		st->st_blocks = (blkcnt_t)((in->tail_len + 511) / 512);
	}
}

/* --- superblock --------------------------------------------------------- */

static const char tfs_magic[16] = "MIXFS-TABLEFS";

int tfs_super_read(struct tfs *fs, struct mixfs_err *err)
{
	struct tfs_txn t;
	struct tfs_super sb;
	unsigned char key[1] = { TFS_K_SUPER };
	unsigned char nkey[1] = { TFS_K_NEXT };
	char *v;
	size_t vlen;
	int ret;

	tfs_txn_begin_read(fs, &t);
	ret = tfs_txn_get(&t, key, 1, &v, &vlen);
	if (ret == -ENOENT)
		return mixfs_err_set(err, -ENOENT,
			"no tablefs filesystem in this store (run mixfs mkfs)");
	if (ret)
		return mixfs_err_set(err, ret, "reading the superblock failed");
	if (vlen != sizeof(sb) || memcmp(v, tfs_magic, sizeof(tfs_magic))) {
		rocksdb_free(v);
		return mixfs_err_set(err, -EUCLEAN,
			"the superblock is not a tablefs superblock (run mixfs fsck)");
	}
	memcpy(&sb, v, sizeof(sb));
	rocksdb_free(v);
	if (sb.version != TFS_FORMAT_VERSION)
		return mixfs_err_set(err, -EPROTO,
			"tablefs format version %u, this mixfs reads version %u",
			sb.version, TFS_FORMAT_VERSION);
	fs->inline_max = sb.inline_max;
	memcpy(fs->uuid, sb.uuid, sizeof(fs->uuid));
	ret = tfs_txn_get(&t, nkey, 1, &v, &vlen);
	if (ret || vlen != 8) {
		if (!ret)
			rocksdb_free(v);
		return mixfs_err_set(err, -EUCLEAN,
			"the next-inode counter is missing or corrupt (run mixfs fsck)");
	}
	fs->next_ino = tfs_get_be64((unsigned char *)v);
	rocksdb_free(v);
	return 0;
}

void tfs_super_write(struct tfs_txn *t, const unsigned char uuid[16],
		     uint32_t inline_max)
{
	struct tfs_super sb;
	unsigned char key[1] = { TFS_K_SUPER };

	memset(&sb, 0, sizeof(sb));
	memcpy(sb.magic, tfs_magic, sizeof(tfs_magic));
	sb.version = TFS_FORMAT_VERSION;
	sb.inline_max = inline_max;
	memcpy(sb.uuid, uuid, sizeof(sb.uuid));
	tfs_txn_put(t, key, 1, &sb, sizeof(sb));
}

void tfs_next_ino_write(struct tfs_txn *t, uint64_t next)
{
	unsigned char key[1] = { TFS_K_NEXT }, val[8];

	put_be64(val, next);
	tfs_txn_put(t, key, 1, val, 8);
}
