/*
 * fsck_repair.c - tfs_fsck(), the checker's entry point, and the writing
 * half of repair: every decision fsck.c took becomes part of one RocksDB
 * write batch, committed with a synced write-ahead log, so a repair that
 * is interrupted has changed nothing.
 *
 * After writing, the whole check runs again; what it still finds is
 * reported as left and counted in the return value. What it deliberately
 * does not do: repair a store that is in use (RocksDB's lock refuses a
 * second opener) or any store but rocksdb: (tablefs's metadata lives
 * nowhere else). A data store of its own is mended first, through the
 * objstore API (fsck_data.c), so that part is not in the atomic batch.
 */
#include "fs/tablefs/fsck.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

/* Delete every key beginning with @prefix. */
static int del_prefix(struct fk *c, rocksdb_writebatch_t *b,
		      const unsigned char *prefix, size_t plen)
{
	rocksdb_iterator_t *it = rocksdb_create_iterator(c->db, c->ro);
	char *e = NULL;

	for (rocksdb_iter_seek(it, (const char *)prefix, plen);
	     rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen;
		const char *k = rocksdb_iter_key(it, &klen);

		if (klen < plen || memcmp(k, prefix, plen))
			break;
		rocksdb_writebatch_delete(b, k, klen);
	}
	rocksdb_iter_get_error(it, &e);
	rocksdb_iter_destroy(it);
	if (e) {
		rocksdb_free(e);
		return -EIO;
	}
	return 0;
}

static size_t key_ino(unsigned char *k, char kind, uint64_t ino)
{
	k[0] = (unsigned char)kind;
	fk_put_be64(k + 1, ino);
	return 9;
}

/* --- inodes ------------------------------------------------------------- */

static int put_inode(struct fk *c, rocksdb_writebatch_t *b,
		     const struct fk_ino *fi)
{
	unsigned char k[9];
	char *old = NULL, *e = NULL, *v;
	size_t olen = 0, tail = 0;

	key_ino(k, TFS_K_INODE, fi->ino);
	if (fi->state == FK_PRESENT && fi->tail_len) {
		old = rocksdb_get(c->db, c->ro, (const char *)k, 9, &olen, &e);
		if (e) {
			rocksdb_free(e);
			return -EIO;
		}
		if (old && olen > sizeof(fi->r))
			tail = olen - sizeof(fi->r);
		if (tail > fi->tail_len)
			tail = fi->tail_len;
	}
	v = malloc(sizeof(fi->r) + tail);
	if (!v) {
		rocksdb_free(old);
		return -ENOMEM;
	}
	memcpy(v, &fi->r, sizeof(fi->r));
	if (tail)
		memcpy(v + sizeof(fi->r), old + sizeof(fi->r), tail);
	rocksdb_writebatch_put(b, (const char *)k, 9, v,
			       sizeof(fi->r) + tail);
	free(v);
	rocksdb_free(old);
	return 0;
}

static int apply_inodes(struct fk *c, rocksdb_writebatch_t *b)
{
	static const char one = 1;
	unsigned char k[9];
	int ret = 0;

	for (size_t i = 0; !ret && i < c->ni; i++) {
		const struct fk_ino *fi = &c->inos[i];

		if (fi->state == FK_GONE) {
			rocksdb_writebatch_delete(b, (const char *)k,
				key_ino(k, TFS_K_INODE, fi->ino));
			rocksdb_writebatch_delete(b, (const char *)k,
				key_ino(k, TFS_K_ORPHAN, fi->ino));
			ret = del_prefix(c, b, k,
					 key_ino(k, TFS_K_XATTR, fi->ino));
			continue;
		}
		if (fi->dirty)
			ret = put_inode(c, b, fi);
		if (fi->orphan_put)
			rocksdb_writebatch_put(b, (const char *)k,
				key_ino(k, TFS_K_ORPHAN, fi->ino), &one, 1);
		else if (fi->orphan_del)
			rocksdb_writebatch_delete(b, (const char *)k,
				key_ino(k, TFS_K_ORPHAN, fi->ino));
	}
	return ret;
}

/* --- directories -------------------------------------------------------- */

static void put_entry(rocksdb_writebatch_t *b, uint64_t dir,
		      const struct fk_ent *e, uint64_t cookie)
{
	unsigned char k[10 + DIR_NAME_MAX], v[FK_KV_COOKIEREC + DIR_NAME_MAX];

	k[0] = TFS_K_DIR;
	fk_put_be64(k + 1, dir);
	k[9] = FK_KV_NAME;
	memcpy(k + 10, e->name, e->namelen);
	fk_put_be64(v, e->ino);
	fk_put_be64(v + 8, cookie);
	v[16] = e->type;
	rocksdb_writebatch_put(b, (const char *)k, 10 + e->namelen,
			       (const char *)v, FK_KV_NAMEREC);
	k[9] = FK_KV_COOKIE;
	fk_put_be64(k + 10, cookie);
	fk_put_be64(v, e->ino);
	v[8] = e->type;
	memcpy(v + FK_KV_COOKIEREC, e->name, e->namelen);
	rocksdb_writebatch_put(b, (const char *)k, 18, (const char *)v,
			       FK_KV_COOKIEREC + e->namelen);
}

static int apply_dirs(struct fk *c, rocksdb_writebatch_t *b)
{
	for (size_t i = 0; i < c->nd; i++) {
		const struct fk_dir *d = &c->dirs[i];
		unsigned char k[10], v[FK_KV_HDR_LEN];
		uint64_t n = 0;
		int ret;

		if (!d->destroy && !d->rebuild)
			continue;
		ret = del_prefix(c, b, k, key_ino(k, TFS_K_DIR, d->ino));
		if (ret)
			return ret;
		if (d->destroy)
			continue;
		for (size_t j = 0; j < d->nent; j++) {
			const struct fk_ent *e = &c->ents[d->first + j];

			if (!e->drop)
				put_entry(b, d->ino, e, DIR_COOKIE_FIRST + n++);
		}
		k[9] = FK_KV_HEADER;
		fk_put_be64(v, (uint64_t)1 << 56);
		fk_put_be64(v + 8, DIR_COOKIE_FIRST + n);
		fk_put_be64(v + 16, n);
		rocksdb_writebatch_put(b, (const char *)k, 10, (const char *)v,
				       sizeof(v));
	}
	return 0;
}

/* --- objects ------------------------------------------------------------ */

static void key_obj(unsigned char *k, char kind, uint64_t id)
{
	k[0] = OBJSTORE_ROCKSDB_PREFIX;
	k[1] = (unsigned char)kind;
	fk_put_be64(k + 2, id);
}

/* Cut @o's chunks to want_size (bad ones are gone already); returns the
 * bytes they hold afterwards through *@held. */
static int cut_chunks(struct fk *c, rocksdb_writebatch_t *b,
		      const struct fk_obj *o, uint64_t *held)
{
	unsigned char p[10];
	rocksdb_iterator_t *it = rocksdb_create_iterator(c->db, c->ro);
	char *e = NULL;
	int ret = 0;

	*held = 0;
	key_obj(p, FK_OK_DATA, o->id);
	for (rocksdb_iter_seek(it, (const char *)p, 10);
	     !ret && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen, len;
		const unsigned char *k = (const unsigned char *)
			rocksdb_iter_key(it, &klen);
		const unsigned char *v = (const unsigned char *)
			rocksdb_iter_value(it, &vlen);
		uint64_t idx, start, want;

		if (klen < 10 || memcmp(k, p, 10))
			break;
		if (klen != 18 || vlen < FK_HASH_LEN)
			continue;	/* removed as a bad record */
		len = vlen - FK_HASH_LEN;
		idx = tfs_get_be64(k + 10);
		memcpy(&want, v + len, FK_HASH_LEN);
		if (len > c->chunk || fk_chunk_hash(v, len, o->id, idx) != want)
			continue;	/* likewise */
		start = idx * c->chunk;
		if (start >= o->want_size) {
			rocksdb_writebatch_delete(b, (const char *)k, klen);
		} else if (start + len > o->want_size) {
			size_t keep = (size_t)(o->want_size - start);
			char *nv = malloc(keep + FK_HASH_LEN);
			uint64_t h;

			if (!nv) {
				ret = -ENOMEM;
				break;
			}
			memcpy(nv, v, keep);
			h = fk_chunk_hash(v, keep, o->id, idx);
			memcpy(nv + keep, &h, FK_HASH_LEN);
			rocksdb_writebatch_put(b, (const char *)k, klen, nv,
					       keep + FK_HASH_LEN);
			free(nv);
			*held += keep;
		} else {
			*held += len;
		}
	}
	rocksdb_iter_get_error(it, &e);
	rocksdb_iter_destroy(it);
	if (e) {
		rocksdb_free(e);
		return -EIO;
	}
	return ret;
}

static void put_meta(rocksdb_writebatch_t *b, uint64_t id, uint64_t size,
		     uint64_t allocated)
{
	struct fk_ometa m;
	struct tfs_time now;
	unsigned char k[10];

	tfs_now(&now);
	memset(&m, 0, sizeof(m));
	m.size = size;
	m.allocated = allocated;
	m.mtime_sec = now.sec;
	m.mtime_nsec = now.nsec;
	key_obj(k, FK_OK_META, id);
	rocksdb_writebatch_put(b, (const char *)k, 10, (const char *)&m,
			       sizeof(m));
}

static int apply_objects(struct fk *c, rocksdb_writebatch_t *b)
{
	unsigned char k[10];
	uint64_t used = 0, objects = 0, next = 1;
	size_t no;
	struct fk_obj *objs = fk_store_objs(c, &no);
	int ret;

	for (size_t i = 0; i < no; i++) {
		struct fk_obj *o = &objs[i];
		uint64_t held = o->allocated;

		if (o->remove) {
			key_obj(k, FK_OK_META, o->id);
			rocksdb_writebatch_delete(b, (const char *)k, 10);
			key_obj(k, FK_OK_DATA, o->id);
			ret = del_prefix(c, b, k, 10);
			key_obj(k, FK_OK_ATTR, o->id);
			if (!ret)
				ret = del_prefix(c, b, k, 10);
			if (ret)
				return ret;
			continue;
		}
		if (o->meta_dirty) {
			ret = cut_chunks(c, b, o, &held);
			if (ret)
				return ret;
			put_meta(b, o->id, o->want_size, held);
		}
		objects++;
		used += held;
		if (o->id >= next)
			next = o->id == UINT64_MAX ? UINT64_MAX : o->id + 1;
	}
	for (size_t i = 0; i < c->ni; i++) {
		const struct fk_ino *fi = &c->inos[i];

		if (fi->state == FK_GONE || !fi->obj_make || c->data_rec)
			continue;	/* data store of its own: fsck_data.c */
		put_meta(b, fi->ino, fi->r.size, 0);
		objects++;
		if (fi->ino >= next)
			next = fi->ino + 1;
	}
	if (c->oc_ok && c->oc.next_id > next)
		next = c->oc.next_id;
	if (!c->oc_ok || c->oc.used != used || c->oc.objects != objects ||
	    c->oc.next_id != next) {
		struct fk_octr ctr = { next, used, objects };
		unsigned char kc[2] = { OBJSTORE_ROCKSDB_PREFIX, FK_OK_COUNTERS };

		rocksdb_writebatch_put(b, (const char *)kc, 2,
				       (const char *)&ctr, sizeof(ctr));
	}
	if (c->oh_dirty) {
		struct fk_ohdr h;
		unsigned char kh[2] = { OBJSTORE_ROCKSDB_PREFIX, FK_OK_HEADER };

		memset(&h, 0, sizeof(h));
		memcpy(h.magic, FK_OBJ_MAGIC, sizeof(FK_OBJ_MAGIC));
		h.version = OBJSTORE_FORMAT_VERSION;
		h.chunk = c->chunk;
		if (c->oh_present && c->oh.version == OBJSTORE_FORMAT_VERSION) {
			memcpy(h.uuid, c->oh.uuid, sizeof(h.uuid));
			h.capacity = c->oh.capacity;
		} else {
			uuid_generate(h.uuid);
		}
		rocksdb_writebatch_put(b, (const char *)kh, 2,
				       (const char *)&h, sizeof(h));
	}
	return 0;
}

/* --- superblock --------------------------------------------------------- */

static void apply_super(struct fk *c, rocksdb_writebatch_t *b)
{
	if (c->sb_dirty) {
		struct tfs_super sb;
		unsigned char k[1] = { TFS_K_SUPER };

		memset(&sb, 0, sizeof(sb));
		memcpy(sb.magic, "MIXFS-TABLEFS", 14);
		sb.version = TFS_FORMAT_VERSION;
		sb.inline_max = c->sb_inline_max;
		if (c->sb_uuid_ok)
			memcpy(sb.uuid, c->sb_uuid, sizeof(sb.uuid));
		else
			uuid_generate(sb.uuid);
		rocksdb_writebatch_put(b, (const char *)k, 1,
				       (const char *)&sb, sizeof(sb));
	}
	if (c->data_rec_put) {
		unsigned char k[1] = { TFS_K_DATA };

		rocksdb_writebatch_put(b, (const char *)k, 1, c->data_uri,
				       strlen(c->data_uri));
	}
	if (c->next_dirty) {
		unsigned char k[1] = { TFS_K_NEXT }, v[8];

		fk_put_be64(v, c->next_ino);
		rocksdb_writebatch_put(b, (const char *)k, 1,
				       (const char *)v, 8);
	}
}

int fk_apply(struct fk *c)
{
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	rocksdb_writeoptions_t *wo;
	char *e = NULL;
	int ret = 0;

	if (!b)
		return -ENOMEM;
	/* The data store first: an object made, cut or freed there before a
	 * batch that never comes is what the next check finishes. */
	ret = fk_data_apply(c);
	if (ret) {
		rocksdb_writebatch_destroy(b);
		return ret;
	}
	for (size_t i = 0; i < c->ndel; i++)
		rocksdb_writebatch_delete(b, (const char *)c->dels[i].key,
					  c->dels[i].klen);
	apply_super(c, b);
	ret = apply_inodes(c, b);
	if (!ret)
		ret = apply_dirs(c, b);
	if (!ret)
		ret = apply_objects(c, b);
	if (ret) {
		rocksdb_writebatch_destroy(b);
		return ret;
	}
	wo = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(wo, 1);
	rocksdb_write(c->db, wo, b, &e);
	rocksdb_writeoptions_destroy(wo);
	rocksdb_writebatch_destroy(b);
	if (e) {
		rocksdb_free(e);
		return -EIO;
	}
	return 0;
}

/* --- the entry point ---------------------------------------------------- */

static int open_db(const char *uri, rocksdb_t **db, struct mixfs_err *err)
{
	const char *q;
	char *path, *e = NULL;
	rocksdb_options_t *o;
	int ret = 0;

	if (strncmp(uri, "rocksdb:", 8))
		return mixfs_err_set(err, -EINVAL,
			"tablefs keeps its metadata in RocksDB: use a rocksdb: store, not '%s'",
			uri);
	q = strchr(uri + 8, '?');
	path = q ? strndup(uri + 8, (size_t)(q - uri - 8)) : strdup(uri + 8);
	o = objstore_rocksdb_options();
	if (!path || !o) {
		free(path);
		if (o)
			rocksdb_options_destroy(o);
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	}
	/* One batch at most: a small memtable, so RocksDB does not reserve
	 * a 70 MiB write-ahead log on every open (slow on tmpfs). */
	rocksdb_options_set_write_buffer_size(o, 4u << 20);
	rocksdb_options_set_manifest_preallocation_size(o, 64u << 10);
	*db = rocksdb_open(o, path, &e);
	if (e) {
		if (strstr(e, "lock"))
			ret = mixfs_err_set(err, -EBUSY,
				"%s is in use (mounted?): unmount it first", path);
		else if (strstr(e, "does not exist") || strstr(e, "No such"))
			ret = mixfs_err_set(err, -ENOENT, "no store at %s", path);
		else
			ret = mixfs_err_set(err, -EIO,
				"%s cannot be opened as a RocksDB database: %s",
				path, e);
		rocksdb_free(e);
		*db = NULL;
	}
	rocksdb_options_destroy(o);
	free(path);
	return ret;
}

static int run(rocksdb_t *db, const char *uri, bool repair,
	       struct fsd_buf *out, struct fk *c)
{
	memset(c, 0, sizeof(*c));
	c->db = db;
	c->uri = uri;
	c->ro = rocksdb_readoptions_create();
	c->out = out;
	c->repair = repair;
	return fk_analyse(c);
}

static void finish(struct fk *c)
{
	rocksdb_readoptions_destroy(c->ro);
	fk_release(c);
}

/* The sentence for operational error @ret of the check in @c. */
static int failed(struct fk *c, struct mixfs_err *err, const char *what,
		  int ret)
{
	if (c->why[0])
		return mixfs_err_set(err, ret, "%s: %s", what, c->why);
	return mixfs_err_set(err, ret, "%s: %s", what, strerror(-ret));
}

int fk_run(rocksdb_t *db, const char *uri, bool repair, struct fsd_buf *out,
	   struct mixfs_err *err)
{
	struct fsd_buf again = { 0 };
	struct fk c;
	int ret;

	ret = run(db, uri, repair, out, &c);
	if (!ret && !c.fs_records) {
		ret = mixfs_err_set(err, -ENOENT,
			"no tablefs filesystem in this store (run mixfs mkfs)");
		goto out;
	}
	if (ret) {
		ret = failed(&c, err, "checking failed", ret);
		goto out;
	}
	ret = c.problems;
	if (!repair || !ret)
		goto out;
	ret = fk_apply(&c);
	if (ret) {
		ret = failed(&c, err, c.data_rec && !c.data_unknown ?
			     "writing the repairs failed (the metadata was not changed)" :
			     "writing the repairs failed (nothing was changed)",
			     ret);
		goto out;
	}
	finish(&c);
	ret = run(db, uri, false, &again, &c);
	if (ret) {
		ret = failed(&c, err, "checking after repair failed", ret);
		goto out;
	}
	ret = c.problems;
	if (ret) {
		const char *p = again.data, *end = again.data + again.len;

		while (p && p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

			fsd_buf_printf(out, "left after repair: %.*s\n", (int)n, p);
			p += n + 1;
		}
	}
out:
	fsd_buf_release(&again);
	finish(&c);
	return ret;
}

int tfs_fsck(const char *uri, bool repair, struct fsd_buf *out,
	     struct mixfs_err *err)
{
	rocksdb_t *db;
	int ret = open_db(uri, &db, err);

	if (ret)
		return ret;
	ret = fk_run(db, uri, repair, out, err);
	rocksdb_close(db);
	return ret;
}
