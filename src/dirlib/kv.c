/*
 * kv.c - the key-value strategy: a directory as ordered keys, TableFS
 * style, through the driver's get/put/del/scan callbacks.
 *
 * Keys (P = struct dir_kv.prefix, INO = directory inode, big-endian so
 * that one directory's keys are contiguous and cookies sort numerically):
 *
 *   P INO 'H'             header: version, options, next cookie, count
 *   P INO 'N' name        name record: ino, cookie, type [, stored name]
 *   P INO 'C' cookie      cookie record: ino, type, stored name
 *
 * In a casefold directory the name record's key holds the folded name
 * and its value the name as given; otherwise the key holds the name and
 * the value does not repeat it. Lookups read one name record; readdir
 * scans the cookie records, which carry everything a dirent needs, so it
 * never goes back to the name records.
 *
 * Every change is a handful of put/del calls that the driver routes into
 * one write batch, so it is atomic when the batch is. Reads happen before
 * the first write of an operation, so a read failure changes nothing.
 * This file keeps no state between calls and no cache: the handle is
 * cheap and the driver's batch is the only truth.
 */
#include "dirlib/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define KV_VERSION	1
#define KV_TAG_HEADER	'H'
#define KV_TAG_NAME	'N'
#define KV_TAG_COOKIE	'C'
#define KV_BASE_LEN	10		/* P INO tag */
#define KV_HDR_LEN	24
#define KV_NAMEREC_LEN	17		/* ino, cookie, type */
#define KV_COOKIEREC_LEN 9		/* ino, type */
#define KV_KEY_MAX	(KV_BASE_LEN + DIR_FOLD_MAX)
#define KV_VAL_MAX	(KV_NAMEREC_LEN + DIR_NAME_MAX)
#define KV_DESTROY_BATCH 64

struct kv_hdr {
	unsigned opts;
	uint64_t next_cookie;
	uint64_t count;
};

static size_t key_base(unsigned char *k, const struct dir_kv *kv,
		       uint64_t ino, char tag)
{
	k[0] = kv->prefix;
	dir_put_be64(k + 1, ino);
	k[9] = (unsigned char)tag;
	return KV_BASE_LEN;
}

static size_t key_cookie(unsigned char *k, const struct dir *d,
			 uint64_t cookie)
{
	key_base(k, d->kv, d->ino, KV_TAG_COOKIE);
	dir_put_be64(k + KV_BASE_LEN, cookie);
	return KV_BASE_LEN + 8;
}

/* The name record's key: base + name, folded in a casefold directory. */
static int key_name(unsigned char *k, size_t *klen, const struct dir *d,
		    const char *name, size_t len, struct mixfs_err *err)
{
	size_t n;
	int ret;

	key_base(k, d->kv, d->ino, KV_TAG_NAME);
	ret = dir_fold(name, len, d->opts, (char *)k + KV_BASE_LEN, &n, err);
	*klen = KV_BASE_LEN + n;
	return ret;
}

/* --- Header ------------------------------------------------------------- */

static int hdr_read(const struct dir_kv *kv, uint64_t ino, struct kv_hdr *h,
		    struct mixfs_err *err)
{
	unsigned char k[KV_BASE_LEN], v[KV_HDR_LEN];
	size_t vlen;
	int ret;

	key_base(k, kv, ino, KV_TAG_HEADER);
	ret = kv->ops->get((struct dir_kv *)kv, k, sizeof(k), v, sizeof(v),
			   &vlen);
	if (ret == -ENOENT)
		return mixfs_err_set(err, -EUCLEAN,
				     "directory %llu: header key missing",
				     (unsigned long long)ino);
	if (ret == -ERANGE || (!ret && vlen != KV_HDR_LEN))
		return mixfs_err_set(err, -EUCLEAN,
				     "directory %llu: header is %zu bytes, "
				     "expected %d", (unsigned long long)ino,
				     vlen, KV_HDR_LEN);
	if (ret)
		return mixfs_err_prefix(err, ret, "directory %llu: reading "
					"header", (unsigned long long)ino);
	h->opts = (unsigned)dir_get_be64(v) & 0xffffffffu;
	h->next_cookie = dir_get_be64(v + 8);
	h->count = dir_get_be64(v + 16);
	if (v[0] != KV_VERSION || (h->opts & ~DIR_OPT_ALL) ||
	    h->next_cookie < DIR_COOKIE_FIRST ||
	    h->next_cookie > DIR_COOKIE_MAX + 1)
		return mixfs_err_set(err, -EUCLEAN,
				     "directory %llu: bad header (version %u, "
				     "options %#x, next cookie %llu)",
				     (unsigned long long)ino, v[0], h->opts,
				     (unsigned long long)h->next_cookie);
	return 0;
}

static int hdr_write(struct dir_kv *kv, uint64_t ino, const struct kv_hdr *h,
		     struct mixfs_err *err)
{
	unsigned char k[KV_BASE_LEN], v[KV_HDR_LEN];
	int ret;

	key_base(k, kv, ino, KV_TAG_HEADER);
	/* version in the top byte of the first word, options in the low 32 */
	dir_put_be64(v, (uint64_t)KV_VERSION << 56 | h->opts);
	dir_put_be64(v + 8, h->next_cookie);
	dir_put_be64(v + 16, h->count);
	ret = kv->ops->put(kv, k, sizeof(k), v, sizeof(v));
	if (ret)
		return mixfs_err_prefix(err, ret, "directory %llu: writing "
					"header", (unsigned long long)ino);
	return 0;
}

/* --- Create and open ---------------------------------------------------- */

static int stop_at_first(void *arg, const void *key, size_t klen,
			 const void *val, size_t vlen)
{
	(void)arg; (void)key; (void)klen; (void)val; (void)vlen;
	return 1;
}

int dir_kv_create(struct dir_kv *kv, uint64_t ino, unsigned opts,
		  struct mixfs_err *err)
{
	struct kv_hdr h = { .opts = opts, .next_cookie = DIR_COOKIE_FIRST };
	unsigned char k[KV_BASE_LEN];
	int ret;

	if (opts & ~DIR_OPT_ALL)
		return mixfs_err_set(err, -EINVAL, "unknown directory options "
				     "%#x", opts & ~DIR_OPT_ALL);
	key_base(k, kv, ino, 0);
	ret = kv->ops->scan(kv, k, KV_BASE_LEN - 1, k, KV_BASE_LEN - 1,
			    stop_at_first, NULL);
	if (ret == 1)
		return mixfs_err_set(err, -EEXIST, "directory %llu already has "
				     "records", (unsigned long long)ino);
	if (ret)
		return mixfs_err_prefix(err, ret, "directory %llu: scanning",
					(unsigned long long)ino);
	return hdr_write(kv, ino, &h, err);
}

int dir_kv_init(struct dir *d, struct dir_kv *kv, uint64_t ino,
		struct mixfs_err *err)
{
	struct kv_hdr h;
	int ret = hdr_read(kv, ino, &h, err);

	if (ret)
		return ret;
	memset(d, 0, sizeof(*d));
	d->strategy = &dir_kv_strategy;
	d->kv = kv;
	d->ino = ino;
	d->opts = h.opts;
	return 0;
}

/* --- Records ------------------------------------------------------------ */

/* Decode a name record into @e; @name/@len is the name looked up. */
static int namerec_decode(const struct dir *d, const unsigned char *v,
			  size_t vlen, const char *name, size_t len,
			  struct dir_entry *e, struct mixfs_err *err)
{
	size_t stored = vlen - KV_NAMEREC_LEN;

	if (vlen < KV_NAMEREC_LEN ||
	    ((d->opts & DIR_OPT_CASEFOLD) ?
	     !dir_name_ok((const char *)v + KV_NAMEREC_LEN, stored, d->opts) :
	     stored != 0))
		return mixfs_err_set(err, -EUCLEAN, "directory %llu: name "
				     "record of \"%.*s\" is malformed (%zu "
				     "bytes)", (unsigned long long)d->ino,
				     (int)len, name, vlen);
	e->ino = dir_get_be64(v);
	e->cookie = dir_get_be64(v + 8);
	e->type = v[16];
	if (d->opts & DIR_OPT_CASEFOLD) {
		name = (const char *)v + KV_NAMEREC_LEN;
		len = stored;
	}
	e->namelen = (uint16_t)len;
	memcpy(e->name, name, len);
	e->name[len] = '\0';
	if (e->ino == 0 || e->cookie < DIR_COOKIE_FIRST ||
	    e->cookie > DIR_COOKIE_MAX)
		return mixfs_err_set(err, -EUCLEAN, "directory %llu: entry "
				     "\"%.*s\" has inode %llu, cookie %llu",
				     (unsigned long long)d->ino, (int)len,
				     name, (unsigned long long)e->ino,
				     (unsigned long long)e->cookie);
	return 0;
}

/* Read the name record for @name; the key is left in @k/@klen. */
static int namerec_get(struct dir *d, const char *name, size_t len,
		       unsigned char *k, size_t *klen, struct dir_entry *e,
		       struct mixfs_err *err)
{
	unsigned char v[KV_VAL_MAX];
	size_t vlen = 0;
	int ret = key_name(k, klen, d, name, len, err);

	if (ret)
		return ret;
	ret = d->kv->ops->get(d->kv, k, *klen, v, sizeof(v), &vlen);
	if (ret == -ENOENT)
		return mixfs_err_set(err, -ENOENT, "no entry \"%.*s\" in "
				     "directory %llu", (int)len, name,
				     (unsigned long long)d->ino);
	if (ret == -ERANGE)
		return mixfs_err_set(err, -EUCLEAN, "directory %llu: name "
				     "record of \"%.*s\" is %zu bytes",
				     (unsigned long long)d->ino, (int)len,
				     name, vlen);
	if (ret)
		return mixfs_err_prefix(err, ret, "directory %llu: looking up "
					"\"%.*s\"", (unsigned long long)d->ino,
					(int)len, name);
	return namerec_decode(d, v, vlen, name, len, e, err);
}

/* Write both records of @e (name key @k/@klen). */
static int records_put(struct dir *d, const unsigned char *k, size_t klen,
		       const struct dir_entry *e, struct mixfs_err *err)
{
	unsigned char v[KV_VAL_MAX], ck[KV_BASE_LEN + 8];
	size_t vlen = KV_NAMEREC_LEN;
	int ret;

	dir_put_be64(v, e->ino);
	dir_put_be64(v + 8, e->cookie);
	v[16] = e->type;
	if (d->opts & DIR_OPT_CASEFOLD) {
		memcpy(v + KV_NAMEREC_LEN, e->name, e->namelen);
		vlen += e->namelen;
	}
	ret = d->kv->ops->put(d->kv, k, klen, v, vlen);
	if (ret)
		goto out_err;
	dir_put_be64(v, e->ino);
	v[8] = e->type;
	memcpy(v + KV_COOKIEREC_LEN, e->name, e->namelen);
	ret = d->kv->ops->put(d->kv, ck, key_cookie(ck, d, e->cookie), v,
			      KV_COOKIEREC_LEN + e->namelen);
	if (ret)
		goto out_err;
	return 0;
out_err:
	return mixfs_err_prefix(err, ret, "directory %llu: writing entry "
				"\"%s\"", (unsigned long long)d->ino, e->name);
}

/* --- Operations --------------------------------------------------------- */

static int kv_lookup(struct dir *d, const char *name, size_t len,
		     struct dir_entry *e, struct mixfs_err *err)
{
	unsigned char k[KV_KEY_MAX];
	size_t klen;

	return namerec_get(d, name, len, k, &klen, e, err);
}

static int kv_insert(struct dir *d, const char *name, size_t len,
		     uint64_t ino, unsigned char type, struct mixfs_err *err)
{
	unsigned char k[KV_KEY_MAX];
	struct dir_entry e;
	struct mixfs_err scratch = { 0 };
	struct kv_hdr h;
	size_t klen;
	int ret;

	ret = namerec_get(d, name, len, k, &klen, &e, &scratch);
	if (ret == 0)
		return mixfs_err_set(err, -EEXIST, "\"%.*s\" exists in "
				     "directory %llu (as \"%s\")", (int)len,
				     name, (unsigned long long)d->ino, e.name);
	if (ret != -ENOENT)
		return mixfs_err_set(err, ret, "%s", scratch.msg);
	ret = hdr_read(d->kv, d->ino, &h, err);
	if (ret)
		return ret;
	if (h.next_cookie > DIR_COOKIE_MAX)
		return mixfs_err_set(err, -ENOSPC, "directory %llu has used "
				     "every cookie", (unsigned long long)d->ino);
	e.ino = ino;
	e.type = type;
	e.cookie = h.next_cookie++;
	e.namelen = (uint16_t)len;
	memcpy(e.name, name, len);
	e.name[len] = '\0';
	h.count++;
	ret = records_put(d, k, klen, &e, err);
	if (ret)
		return ret;
	return hdr_write(d->kv, d->ino, &h, err);
}

static int kv_remove(struct dir *d, const char *name, size_t len,
		     struct dir_entry *e, struct mixfs_err *err)
{
	unsigned char k[KV_KEY_MAX], ck[KV_BASE_LEN + 8];
	struct dir_entry old;
	struct kv_hdr h;
	size_t klen;
	int ret;

	ret = namerec_get(d, name, len, k, &klen, &old, err);
	if (ret)
		return ret;
	ret = hdr_read(d->kv, d->ino, &h, err);
	if (ret)
		return ret;
	if (h.count == 0)
		return mixfs_err_set(err, -EUCLEAN, "directory %llu: header "
				     "counts no entries but \"%s\" exists",
				     (unsigned long long)d->ino, old.name);
	h.count--;
	ret = d->kv->ops->del(d->kv, k, klen);
	if (!ret)
		ret = d->kv->ops->del(d->kv, ck, key_cookie(ck, d, old.cookie));
	if (ret)
		return mixfs_err_prefix(err, ret, "directory %llu: removing "
					"\"%s\"", (unsigned long long)d->ino,
					old.name);
	ret = hdr_write(d->kv, d->ino, &h, err);
	if (ret)
		return ret;
	if (e)
		*e = old;
	return 0;
}

static int kv_replace(struct dir *d, const char *name, size_t len,
		      uint64_t ino, unsigned char type, struct dir_entry *old,
		      struct mixfs_err *err)
{
	unsigned char k[KV_KEY_MAX];
	struct dir_entry e, was;
	size_t klen;
	int ret;

	ret = namerec_get(d, name, len, k, &klen, &e, err);
	if (ret)
		return ret;
	was = e;
	e.ino = ino;
	e.type = type;
	ret = records_put(d, k, klen, &e, err);
	if (ret)
		return ret;
	if (old)
		*old = was;
	return 0;
}

static int kv_count(struct dir *d, uint64_t *count, struct mixfs_err *err)
{
	struct kv_hdr h;
	int ret = hdr_read(d->kv, d->ino, &h, err);

	if (!ret)
		*count = h.count;
	return ret;
}

struct iter_ctx {
	const struct dir *d;
	int (*fn)(void *arg, const struct dir_entry *e);
	void *arg;
	struct mixfs_err *err;
	struct dir_entry e;
};

static int iter_one(void *arg, const void *key, size_t klen, const void *val,
		    size_t vlen)
{
	struct iter_ctx *c = arg;
	const unsigned char *v = val;
	size_t n = vlen - KV_COOKIEREC_LEN;

	if (klen != KV_BASE_LEN + 8 || vlen <= KV_COOKIEREC_LEN ||
	    n > DIR_NAME_MAX)
		return mixfs_err_set(c->err, -EUCLEAN, "directory %llu: "
				     "cookie record malformed (key %zu bytes, "
				     "value %zu bytes)",
				     (unsigned long long)c->d->ino, klen, vlen);
	c->e.cookie = dir_get_be64((const unsigned char *)key + KV_BASE_LEN);
	c->e.ino = dir_get_be64(v);
	c->e.type = v[8];
	c->e.namelen = (uint16_t)n;
	memcpy(c->e.name, v + KV_COOKIEREC_LEN, n);
	c->e.name[n] = '\0';
	if (c->e.ino == 0 || c->e.cookie < DIR_COOKIE_FIRST ||
	    c->e.cookie > DIR_COOKIE_MAX ||
	    !dir_name_ok(c->e.name, n, c->d->opts))
		return mixfs_err_set(c->err, -EUCLEAN, "directory %llu: "
				     "cookie record %llu is malformed",
				     (unsigned long long)c->d->ino,
				     (unsigned long long)c->e.cookie);
	return c->fn(c->arg, &c->e);
}

static int kv_iterate(struct dir *d, uint64_t after,
		      int (*fn)(void *arg, const struct dir_entry *e),
		      void *arg, struct mixfs_err *err)
{
	struct iter_ctx c = { .d = d, .fn = fn, .arg = arg, .err = err };
	unsigned char from[KV_BASE_LEN + 8];

	key_cookie(from, d, after + 1);
	return d->kv->ops->scan(d->kv, from, KV_BASE_LEN, from, sizeof(from),
				iter_one, &c);
}

struct destroy_ctx {
	unsigned n;
	size_t len[KV_DESTROY_BATCH];
	unsigned char key[KV_DESTROY_BATCH][KV_KEY_MAX + 1];
};

static int destroy_collect(void *arg, const void *key, size_t klen,
			   const void *val, size_t vlen)
{
	struct destroy_ctx *c = arg;

	(void)val; (void)vlen;
	if (klen > KV_KEY_MAX)
		return -EUCLEAN;
	memcpy(c->key[c->n], key, klen);
	c->len[c->n] = klen;
	return ++c->n == KV_DESTROY_BATCH;
}

/*
 * Delete in batches, each scan starting just past the last key deleted
 * (key + "\0"), so progress does not depend on the scan seeing the batch's
 * own deletions.
 */
static int kv_destroy(struct dir *d, struct mixfs_err *err)
{
	struct destroy_ctx *c = malloc(sizeof(*c));
	unsigned char from[KV_KEY_MAX + 1];
	size_t flen;
	int ret;

	if (!c)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	flen = key_base(from, d->kv, d->ino, 0) - 1;
	do {
		c->n = 0;
		ret = d->kv->ops->scan(d->kv, from, KV_BASE_LEN - 1, from,
				       flen, destroy_collect, c);
		if (ret < 0) {
			mixfs_err_prefix(err, ret, "directory %llu: scanning "
					 "to destroy",
					 (unsigned long long)d->ino);
			goto out_free;
		}
		for (unsigned i = 0; i < c->n; i++) {
			ret = d->kv->ops->del(d->kv, c->key[i], c->len[i]);
			if (ret) {
				mixfs_err_prefix(err, ret, "directory %llu: "
						 "deleting a record",
						 (unsigned long long)d->ino);
				goto out_free;
			}
		}
		if (c->n) {
			flen = c->len[c->n - 1];
			memcpy(from, c->key[c->n - 1], flen);
			from[flen++] = 0;
		}
	} while (c->n == KV_DESTROY_BATCH);
	ret = 0;
out_free:
	free(c);
	return ret;
}

const struct dir_strategy dir_kv_strategy = {
	.name = "kv",
	.lookup = kv_lookup,
	.insert = kv_insert,
	.remove = kv_remove,
	.replace = kv_replace,
	.count = kv_count,
	.iterate = kv_iterate,
	.destroy = kv_destroy,
};
