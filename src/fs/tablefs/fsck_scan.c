/*
 * fsck_scan.c - one pass over every key of a tablefs database, reading
 * what each record says into the checker's tables (fsck.h).
 *
 * Each record is judged on its own here: its key has the right shape, its
 * value parses, its checksum (data chunks) matches. A record that cannot
 * be read is reported and queued for removal; a directory with any such
 * record is rebuilt from the entries that survive. Whether records agree
 * with each other (an entry's inode exists, link counts, sizes) is fsck.c's
 * business, once everything has been read.
 *
 * Data chunks are read in full to verify their checksums, so the scan
 * costs one read of the whole store. Only small facts are kept per
 * record, never the data. File data in a store of its own (a 'D' record)
 * is read by fsck_data.c at the end of the pass.
 */
#include "fs/tablefs/fsck.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

void fk_put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

uint64_t fk_chunk_hash(const void *data, size_t len, uint64_t id,
		       uint64_t idx)
{
	return XXH3_64bits_withSeed(data, len,
				    id * 0x9E3779B97F4A7C15ull ^ idx);
}

/* Queue @key for removal by repair. */
static int del_add(struct fk *c, const void *key, size_t klen)
{
	struct fk_del *p = fk_grow(c, c->dels, &c->cdel, c->ndel, sizeof(*p));

	if (!p)
		return -ENOMEM;
	c->dels = p;
	p[c->ndel].key = malloc(klen ? klen : 1);
	if (!p[c->ndel].key)
		return fk_nomem(c);
	memcpy(p[c->ndel].key, key, klen);
	p[c->ndel].klen = klen;
	c->ndel++;
	return 0;
}

/* A key as text for messages: printable bytes as is, others as \xNN. */
static const char *key_text(const unsigned char *k, size_t klen, char *buf,
			    size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < klen && o + 5 < size; i++) {
		if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '\\')
			buf[o++] = (char)k[i];
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", k[i]);
	}
	buf[o] = '\0';
	return buf;
}

static int bad_record(struct fk *c, const unsigned char *k, size_t klen,
		      const char *why)
{
	char text[96];

	fk_problem(c, "record removed", "record '%s' (%zu-byte key): %s",
		   key_text(k, klen, text, sizeof(text)), klen, why);
	return del_add(c, k, klen);
}

/* --- superblock, counter, inodes ---------------------------------------- */

static void scan_super(struct fk *c, const unsigned char *v, size_t vlen)
{
	struct tfs_super sb;

	c->sb_present = true;
	if (vlen != sizeof(sb)) {
		c->sb_bad = true;
		c->sb_why = "wrong length";
		return;
	}
	memcpy(&sb, v, sizeof(sb));
	memcpy(c->sb_uuid, sb.uuid, sizeof(sb.uuid));
	c->sb_uuid_ok = true;
	c->sb_inline_max = sb.inline_max;
	c->sb_inline_ok = sb.inline_max <= TFS_XATTR_SIZE_MAX;
	c->sb_magic_ok = !memcmp(sb.magic, "MIXFS-TABLEFS", 14) &&
			 !sb.magic[14] && !sb.magic[15];
	if (!c->sb_magic_ok) {
		c->sb_bad = true;
		c->sb_why = "bad magic";
	} else if (sb.version != TFS_FORMAT_VERSION) {
		c->sb_bad = true;
		c->sb_why = "unknown format version";
	} else if (!c->sb_inline_ok) {
		c->sb_bad = true;
		c->sb_why = "inline limit past 64 KiB";
	}
}

static void scan_next(struct fk *c, const unsigned char *v, size_t vlen)
{
	c->next_present = true;
	if (vlen != 8) {
		c->next_bad = true;
		return;
	}
	c->next_ino = tfs_get_be64(v);
	if (c->next_ino <= TFS_ROOT_INO || c->next_ino > FSD_CTL_INO_BASE)
		c->next_bad = true;
}

static int scan_inode(struct fk *c, const unsigned char *k, size_t klen,
		      const unsigned char *v, size_t vlen)
{
	struct fk_ino *fi;
	uint64_t ino;

	if (klen != 9)
		return bad_record(c, k, klen, "inode key of the wrong length");
	ino = tfs_get_be64(k + 1);
	if (ino == 0 || ino >= FSD_CTL_INO_BASE)
		return bad_record(c, k, klen, "no such inode number");
	fi = fk_grow(c, c->inos, &c->ci, c->ni, sizeof(*fi));
	if (!fi)
		return -ENOMEM;
	c->inos = fi;
	fi = &c->inos[c->ni++];
	memset(fi, 0, sizeof(*fi));
	fi->ino = ino;
	fi->vlen = vlen;
	fi->obj = SIZE_MAX;
	fi->dentry = SIZE_MAX;
	fi->state = FK_PRESENT;
	if (vlen < sizeof(fi->r)) {
		fi->unparsed = true;
		return 0;
	}
	memcpy(&fi->r, v, sizeof(fi->r));
	fi->tail_len = vlen - sizeof(fi->r);
	fi->tail_nul = memchr(v + sizeof(fi->r), 0, fi->tail_len) != NULL;
	return 0;
}

/* --- directories -------------------------------------------------------- */

/* One directory's records while its keys go by (they are contiguous). */
struct dgroup {
	uint64_t ino;
	bool active, hdr_seen, hdr_ok, rebuild;
	uint64_t count, next_cookie;
	struct fk_ent *cookies;	/* from cookie records, by cookie */
	size_t nc, cc;
	struct fk_ent *names;	/* from name records, by name */
	size_t nn, cn;
	bool *used;
};

static bool dtype_ok(unsigned t)
{
	return t == 1 || t == 2 || t == 4 || t == 6 || t == 8 || t == 10 ||
	       t == 12;
}

static struct fk_ent *group_push(struct fk *c, struct fk_ent **arr,
				 size_t *n, size_t *cap)
{
	struct fk_ent *p = fk_grow(c, *arr, cap, *n, sizeof(*p));

	if (!p)
		return NULL;
	*arr = p;
	memset(&p[*n], 0, sizeof(p[0]));
	return &p[(*n)++];
}

static int ent_push(struct fk *c, const struct fk_ent *e)
{
	struct fk_ent *p = fk_grow(c, c->ents, &c->ce, c->ne, sizeof(*p));

	if (!p)
		return -ENOMEM;
	c->ents = p;
	p[c->ne++] = *e;
	return 0;
}

static struct fk_ent *cookie_find(struct dgroup *g, uint64_t cookie,
				  size_t *at)
{
	size_t lo = 0, hi = g->nc;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (g->cookies[mid].cookie == cookie) {
			*at = mid;
			return &g->cookies[mid];
		}
		if (g->cookies[mid].cookie < cookie)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Merge the group's name and cookie records into entries. */
static int group_flush(struct fk *c, struct dgroup *g)
{
	struct fk_dir *d;
	unsigned long long dino = (unsigned long long)g->ino;
	size_t first = c->ne;
	int ret = 0;

	if (!g->active)
		return 0;
	g->active = false;
	g->used = calloc(g->nc + 1, sizeof(bool));
	if (!g->used)
		return fk_nomem(c);
	if (!g->hdr_seen) {
		fk_problem(c, "directory rebuilt", "directory %llu: header record missing", dino);
		g->rebuild = true;
	}
	for (size_t i = 0; !ret && i < g->nn; i++) {
		struct fk_ent e = g->names[i];
		size_t at;
		struct fk_ent *ce = cookie_find(g, e.cookie, &at);

		if (!ce || g->used[at]) {
			fk_problem(c, "directory rebuilt", "directory %llu: entry '%s' has no cookie record",
				   dino, e.name);
			g->rebuild = true;
		} else {
			g->used[at] = true;
			if (ce->ino != e.ino || ce->type != e.type ||
			    strcmp(ce->name, e.name)) {
				fk_problem(c, "directory rebuilt", "directory %llu: entry '%s' (inode %llu, type %u) and its cookie record ('%s', inode %llu, type %u) disagree",
					   dino, e.name,
					   (unsigned long long)e.ino, e.type,
					   ce->name,
					   (unsigned long long)ce->ino,
					   ce->type);
				g->rebuild = true;
				if (ce->ino != e.ino)
					e.alt_ino = ce->ino;
			}
		}
		ret = ent_push(c, &e);
	}
	for (size_t i = 0; !ret && i < g->nc; i++) {
		struct fk_ent e = g->cookies[i];
		bool dup = false;

		if (g->used[i])
			continue;
		for (size_t k = first; k < c->ne; k++)
			dup |= !strcmp(c->ents[k].name, e.name);
		fk_problem(c, "directory rebuilt", "directory %llu: cookie record %llu ('%s') has no name record%s",
			   dino, (unsigned long long)e.cookie, e.name,
			   dup ? " and its name is taken" : "");
		g->rebuild = true;
		if (!dup)
			ret = ent_push(c, &e);
	}
	free(g->used);
	g->used = NULL;
	if (ret)
		return ret;
	d = fk_grow(c, c->dirs, &c->cd, c->nd, sizeof(*d));
	if (!d)
		return -ENOMEM;
	c->dirs = d;
	d = &c->dirs[c->nd++];
	memset(d, 0, sizeof(*d));
	d->ino = g->ino;
	d->hdr_seen = g->hdr_seen;
	d->hdr_ok = g->hdr_ok;
	d->rebuild = g->rebuild || !g->hdr_ok;
	d->count = g->count;
	d->next_cookie = g->next_cookie;
	d->first = first;
	d->nent = c->ne - first;
	for (size_t k = first; k < c->ne; k++)
		c->ents[k].dir = g->ino;
	return 0;
}

static int scan_dir(struct fk *c, struct dgroup *g, const unsigned char *k,
		    size_t klen, const unsigned char *v, size_t vlen)
{
	uint64_t ino;
	unsigned char tag;
	struct fk_ent *e;
	int ret;

	if (klen < 10)
		return bad_record(c, k, klen, "directory key too short");
	ino = tfs_get_be64(k + 1);
	tag = k[9];
	if (!g->active || g->ino != ino) {
		ret = group_flush(c, g);
		if (ret)
			return ret;
		g->active = true;
		g->ino = ino;
		g->hdr_seen = g->hdr_ok = g->rebuild = false;
		g->nc = g->nn = 0;
	}
	if (tag == FK_KV_HEADER && klen == 10) {
		uint64_t w0;

		g->hdr_seen = true;
		if (vlen != FK_KV_HDR_LEN) {
			fk_problem(c, "directory rebuilt", "directory %llu: header of %zu bytes",
				   (unsigned long long)ino, vlen);
			return 0;
		}
		w0 = tfs_get_be64(v);
		g->next_cookie = tfs_get_be64(v + 8);
		g->count = tfs_get_be64(v + 16);
		if (w0 != (uint64_t)1 << 56 ||
		    g->next_cookie < DIR_COOKIE_FIRST ||
		    g->next_cookie > DIR_COOKIE_MAX + 1) {
			fk_problem(c, "directory rebuilt", "directory %llu: header is corrupt",
				   (unsigned long long)ino);
			return 0;
		}
		g->hdr_ok = true;
		return 0;
	}
	if (tag == FK_KV_NAME && klen > 10 && klen <= 10 + DIR_NAME_MAX &&
	    vlen == FK_KV_NAMEREC &&
	    !dir_name_check((const char *)k + 10, klen - 10, 0, NULL) &&
	    tfs_get_be64(v) && dtype_ok(v[16]) &&
	    tfs_get_be64(v + 8) >= DIR_COOKIE_FIRST &&
	    tfs_get_be64(v + 8) <= DIR_COOKIE_MAX) {
		e = group_push(c, &g->names, &g->nn, &g->cn);
		if (!e)
			return -ENOMEM;
		e->ino = tfs_get_be64(v);
		e->cookie = tfs_get_be64(v + 8);
		e->type = v[16];
		e->namelen = (uint16_t)(klen - 10);
		memcpy(e->name, k + 10, klen - 10);
		return 0;
	}
	if (tag == FK_KV_COOKIE && klen == 18 && vlen > FK_KV_COOKIEREC &&
	    vlen <= FK_KV_COOKIEREC + DIR_NAME_MAX &&
	    !dir_name_check((const char *)v + FK_KV_COOKIEREC,
			    vlen - FK_KV_COOKIEREC, 0, NULL) &&
	    tfs_get_be64(v) && dtype_ok(v[8]) &&
	    tfs_get_be64(k + 10) >= DIR_COOKIE_FIRST &&
	    tfs_get_be64(k + 10) <= DIR_COOKIE_MAX) {
		e = group_push(c, &g->cookies, &g->nc, &g->cc);
		if (!e)
			return -ENOMEM;
		e->cookie = tfs_get_be64(k + 10);
		e->ino = tfs_get_be64(v);
		e->type = v[8];
		e->namelen = (uint16_t)(vlen - FK_KV_COOKIEREC);
		memcpy(e->name, v + FK_KV_COOKIEREC, e->namelen);
		return 0;
	}
	fk_problem(c, "directory rebuilt without it",
		   "directory %llu: a %s record (%zu-byte key, %zu-byte value) is corrupt",
		   (unsigned long long)ino,
		   tag == FK_KV_NAME ? "name" : tag == FK_KV_COOKIE ?
		   "cookie" : tag == FK_KV_HEADER ? "header" : "unknown",
		   klen, vlen);
	g->rebuild = true;
	return 0;
}

/* --- the object store's records ----------------------------------------- */

static struct fk_obj *obj_get(struct fk *c, uint64_t id)
{
	struct fk_obj *o = fk_obj_find(c, id);
	size_t at;

	if (o)
		return o;
	o = fk_grow(c, c->objs, &c->co, c->no, sizeof(*o));
	if (!o)
		return NULL;
	c->objs = o;
	for (at = c->no; at > 0 && c->objs[at - 1].id > id; at--)
		;
	memmove(&c->objs[at + 1], &c->objs[at],
		(c->no - at) * sizeof(c->objs[0]));
	c->no++;
	memset(&c->objs[at], 0, sizeof(c->objs[0]));
	c->objs[at].id = id;
	return &c->objs[at];
}

static void scan_store_header(struct fk *c)
{
	unsigned char k[2] = { OBJSTORE_ROCKSDB_PREFIX, FK_OK_HEADER };
	unsigned char kc[2] = { OBJSTORE_ROCKSDB_PREFIX, FK_OK_COUNTERS };
	char *v, *e = NULL;
	size_t vlen;

	c->chunk = 0;
	v = rocksdb_get(c->db, c->ro, (const char *)k, 2, &vlen, &e);
	if (e) {
		rocksdb_free(e);
		c->err = -EIO;
		return;
	}
	if (v) {
		c->oh_present = true;
		if (vlen == sizeof(c->oh)) {
			memcpy(&c->oh, v, sizeof(c->oh));
			c->oh_ok = !memcmp(c->oh.magic, FK_OBJ_MAGIC,
					   sizeof(FK_OBJ_MAGIC)) &&
				   !c->oh.magic[15] &&
				   c->oh.version == OBJSTORE_FORMAT_VERSION &&
				   c->oh.chunk >= 4096 &&
				   c->oh.chunk <= (1u << 20) &&
				   !(c->oh.chunk & (c->oh.chunk - 1));
		}
		rocksdb_free(v);
	}
	if (c->oh_ok)
		c->chunk = c->oh.chunk;
	v = rocksdb_get(c->db, c->ro, (const char *)kc, 2, &vlen, &e);
	if (e) {
		rocksdb_free(e);
		c->err = -EIO;
		return;
	}
	if (v) {
		c->oc_present = true;
		if (vlen == sizeof(c->oc)) {
			memcpy(&c->oc, v, sizeof(c->oc));
			c->oc_ok = true;
		}
		rocksdb_free(v);
	}
}

static int scan_obj(struct fk *c, const unsigned char *k, size_t klen,
		    const unsigned char *v, size_t vlen)
{
	struct fk_obj *o;
	uint64_t id;

	if (klen == 2 && (k[1] == FK_OK_HEADER || k[1] == FK_OK_COUNTERS))
		return 0;	/* read before the pass */
	if (klen < 10 || (k[1] != FK_OK_META && k[1] != FK_OK_DATA &&
			  k[1] != FK_OK_ATTR))
		return bad_record(c, k, klen, "not an object store record");
	id = tfs_get_be64(k + 2);
	if (k[1] == FK_OK_META) {
		struct fk_ometa m;

		if (klen != 10)
			return bad_record(c, k, klen, "object key of the wrong length");
		o = obj_get(c, id);
		if (!o)
			return -ENOMEM;
		o->meta_present = true;
		if (vlen != sizeof(m))
			return 0;
		memcpy(&m, v, sizeof(m));
		o->size = m.size;
		o->allocated = m.allocated;
		o->size_ok = m.size <= OBJSTORE_MAX_SIZE && !m.reserved &&
			     m.mtime_nsec < 1000000000u;
		return 0;
	}
	if (k[1] == FK_OK_ATTR) {
		if (klen > 10 + 255)
			return bad_record(c, k, klen, "object attribute name too long");
		return 0;	/* checked against the objects after the pass */
	}
	if (klen != 18)
		return bad_record(c, k, klen, "chunk key of the wrong length");
	{
		uint64_t idx = tfs_get_be64(k + 10), want;
		size_t len = vlen >= FK_HASH_LEN ? vlen - FK_HASH_LEN : 0;
		char why[160];

		if (vlen < FK_HASH_LEN || (c->chunk && len > c->chunk)) {
			snprintf(why, sizeof(why), "object %llu: chunk %llu of %zu bytes (data lost, reads as zeros)",
				 (unsigned long long)id,
				 (unsigned long long)idx, vlen);
			return bad_record(c, k, klen, why);
		}
		memcpy(&want, v + len, FK_HASH_LEN);
		if (fk_chunk_hash(v, len, id, idx) != want) {
			snprintf(why, sizeof(why), "object %llu: checksum mismatch in chunk %llu (%zu bytes of data lost, read as zeros)",
				 (unsigned long long)id,
				 (unsigned long long)idx, len);
			return bad_record(c, k, klen, why);
		}
		o = obj_get(c, id);
		if (!o)
			return -ENOMEM;
		o->nchunks++;
		o->chunk_sum += len;
		/* chunk_end holds (last index, its length) until the chunk
		 * size is known: see finish_objects() */
		o->want_size = idx;
		o->chunk_end = len;
		if (len > c->chunk_seen)
			c->chunk_seen = (uint32_t)len;
	}
	return 0;
}

static void finish_objects(struct fk *c)
{
	if (!c->chunk) {
		uint32_t ch = 4096;

		while (ch < c->chunk_seen && ch < (1u << 20))
			ch <<= 1;
		c->chunk = c->chunk_seen ? ch : OBJSTORE_ROCKSDB_CHUNK;
		if (c->chunk_seen && c->chunk_seen < OBJSTORE_ROCKSDB_CHUNK &&
		    c->chunk < OBJSTORE_ROCKSDB_CHUNK) {
			bool multi = false;

			for (size_t i = 0; i < c->no; i++)
				multi |= c->objs[i].want_size > 0;
			if (!multi)	/* nothing says otherwise */
				c->chunk = OBJSTORE_ROCKSDB_CHUNK;
		}
	}
	for (size_t i = 0; i < c->no; i++) {
		struct fk_obj *o = &c->objs[i];

		if (o->nchunks)
			o->chunk_end = o->want_size * c->chunk + o->chunk_end;
		else
			o->chunk_end = 0;
		o->want_size = 0;
	}
}

/* Attributes of objects that have no object record. */
static int scan_attrs(struct fk *c)
{
	unsigned char p[2] = { OBJSTORE_ROCKSDB_PREFIX, FK_OK_ATTR };
	rocksdb_iterator_t *it = rocksdb_create_iterator(c->db, c->ro);
	int ret = 0;

	for (rocksdb_iter_seek(it, (const char *)p, 2);
	     !ret && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen;
		const unsigned char *k = (const unsigned char *)
			rocksdb_iter_key(it, &klen);
		struct fk_obj *o;

		if (klen < 2 || memcmp(k, p, 2))
			break;
		if (klen < 10 || klen > 10 + 255)
			continue;	/* queued by the pass */
		o = fk_obj_find(c, tfs_get_be64(k + 2));
		if (!o || !o->meta_present)
			ret = bad_record(c, k, klen,
					 "attribute of an object that does not exist");
	}
	rocksdb_iter_destroy(it);
	return ret;
}

/* --- xattrs and orphan marks --------------------------------------------- */

static int scan_xattr(struct fk *c, const unsigned char *k, size_t klen,
		      size_t vlen)
{
	const char *name = (const char *)k + 9;
	size_t n = klen - 9;

	if (klen < 10 || n > TFS_XATTR_NAME_MAX || memchr(name, 0, n) ||
	    (!(n > 5 && !memcmp(name, "user.", 5)) &&
	     !(n > 8 && !memcmp(name, "trusted.", 8)) &&
	     !(n > 9 && !memcmp(name, "security.", 9)) &&
	     !(n == strlen(TFS_ACL_ACCESS) && !memcmp(name, TFS_ACL_ACCESS, n)) &&
	     !(n == strlen(TFS_ACL_DEFAULT) &&
	       !memcmp(name, TFS_ACL_DEFAULT, n))))
		return bad_record(c, k, klen, "not an extended attribute name");
	if (vlen > TFS_XATTR_SIZE_MAX)
		return bad_record(c, k, klen, "extended attribute value too long");
	return 0;	/* its inode is checked after the pass */
}

static int check_xattrs(struct fk *c)
{
	unsigned char p[1] = { TFS_K_XATTR };
	rocksdb_iterator_t *it = rocksdb_create_iterator(c->db, c->ro);
	int ret = 0;

	for (rocksdb_iter_seek(it, (const char *)p, 1);
	     !ret && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen;
		const unsigned char *k = (const unsigned char *)
			rocksdb_iter_key(it, &klen);
		struct fk_ino *fi;

		if (k[0] != TFS_K_XATTR)
			break;
		if (klen < 10)
			continue;
		fi = fk_ino_find(c, tfs_get_be64(k + 1));
		if (!fi)
			ret = bad_record(c, k, klen,
					 "extended attribute of an inode that does not exist");
		else if (!fi->unparsed && fk_type_ok(fi->r.mode) &&
			 !S_ISREG(fi->r.mode) && !S_ISDIR(fi->r.mode) &&
			 klen > 14 && !memcmp(k + 9, "user.", 5))
			ret = bad_record(c, k, klen,
					 "user. attribute on an inode that is neither file nor directory");
	}
	rocksdb_iter_destroy(it);
	return ret;
}

static int scan_orphan(struct fk *c, const unsigned char *k, size_t klen,
		       const unsigned char *v, size_t vlen)
{
	struct fk_ino *fi;

	if (klen != 9)
		return bad_record(c, k, klen, "orphan key of the wrong length");
	fi = fk_ino_find(c, tfs_get_be64(k + 1));
	if (!fi)
		return bad_record(c, k, klen, "orphan mark of an inode that does not exist");
	fi->orphan = true;
	if (vlen != 1 || v[0] != 1) {
		fk_problem(c, "rewritten", "inode %llu: orphan mark of %zu bytes is malformed",
			   (unsigned long long)fi->ino, vlen);
		fi->orphan_put = true;
	}
	return 0;
}

/* --- the pass ----------------------------------------------------------- */

static int scan_one(struct fk *c, struct dgroup *g, const unsigned char *k,
		    size_t klen, const unsigned char *v, size_t vlen)
{
	if (klen == 0)
		return bad_record(c, k, klen, "empty key");
	if (k[0] != OBJSTORE_ROCKSDB_PREFIX)
		c->fs_records++;
	if (k[0] != TFS_K_DIR && g->active) {
		int ret = group_flush(c, g);

		if (ret)
			return ret;
	}
	switch (k[0]) {
	case TFS_K_SUPER:
		if (klen != 1)
			break;
		scan_super(c, v, vlen);
		return 0;
	case TFS_K_NEXT:
		if (klen != 1)
			break;
		scan_next(c, v, vlen);
		return 0;
	case TFS_K_INODE:
		return scan_inode(c, k, klen, v, vlen);
	case TFS_K_DIR:
		return scan_dir(c, g, k, klen, v, vlen);
	case TFS_K_XATTR:
		return scan_xattr(c, k, klen, vlen);
	case TFS_K_ORPHAN:
		return scan_orphan(c, k, klen, v, vlen);
	case TFS_K_DATA:
		if (klen != 1)
			break;
		return fk_data_record(c, v, vlen);
	case OBJSTORE_ROCKSDB_PREFIX:
		if (klen < 2)
			break;
		return scan_obj(c, k, klen, v, vlen);
	}
	return bad_record(c, k, klen, "not a tablefs record");
}

int fk_scan(struct fk *c)
{
	rocksdb_iterator_t *it;
	struct dgroup g;
	char *e = NULL;
	int ret = 0;

	scan_store_header(c);
	if (c->err)
		return c->err;
	memset(&g, 0, sizeof(g));
	it = rocksdb_create_iterator(c->db, c->ro);
	for (rocksdb_iter_seek_to_first(it); !ret && rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const unsigned char *k = (const unsigned char *)
			rocksdb_iter_key(it, &klen);
		const unsigned char *v = (const unsigned char *)
			rocksdb_iter_value(it, &vlen);

		ret = scan_one(c, &g, k, klen, v, vlen);
	}
	if (!ret)
		ret = group_flush(c, &g);
	rocksdb_iter_get_error(it, &e);
	rocksdb_iter_destroy(it);
	free(g.names);
	free(g.cookies);
	if (e) {
		rocksdb_free(e);
		return c->err = -EIO;
	}
	if (ret)
		return c->err ? c->err : ret;
	finish_objects(c);
	for (size_t i = 0; i < c->no; i++) {
		struct fk_ino *fi = fk_ino_find(c, c->objs[i].id);

		if (fi)
			fi->obj = i;
	}
	/* entry types are evidence of what an unreadable inode was */
	for (size_t i = 0; i < c->ne; i++) {
		struct fk_ino *fi = fk_ino_find(c, c->ents[i].ino);

		if (fi && !fi->ent_type)
			fi->ent_type = c->ents[i].type;
	}
	ret = scan_attrs(c);
	if (!ret)
		ret = check_xattrs(c);
	if (!ret)
		ret = fk_data_load(c);
	return ret;
}

/* --- the store's header and counters ------------------------------------ */

void fk_check_store(struct fk *c)
{
	uint64_t used = 0, objects = 0, next = 1;
	size_t no;
	const struct fk_obj *objs = fk_store_objs(c, &no);

	if (!c->oh_ok) {
		fk_problem(c, "written anew (chunk size from the data)",
			   "the object store header is %s",
			   c->oh_present ? "corrupt" : "missing");
		c->oh_dirty = true;
	}
	for (size_t i = 0; i < no; i++) {
		const struct fk_obj *o = &objs[i];

		if (!o->meta_present)
			continue;
		objects++;
		used += o->allocated;
		if (o->id >= next)
			next = o->id == UINT64_MAX ? UINT64_MAX : o->id + 1;
	}
	if (!c->oc_ok)
		fk_problem(c, "recounted", "the object store counters are %s",
			   c->oc_present ? "corrupt" : "missing");
	else if (c->oc.objects != objects || c->oc.used != used ||
		 c->oc.next_id < next)
		fk_problem(c, "recounted",
			   "the object store counts %llu objects, %llu bytes, next id %llu; it holds %llu, %llu, ids below %llu",
			   (unsigned long long)c->oc.objects,
			   (unsigned long long)c->oc.used,
			   (unsigned long long)c->oc.next_id,
			   (unsigned long long)objects,
			   (unsigned long long)used,
			   (unsigned long long)next);
}
