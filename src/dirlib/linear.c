/*
 * linear.c - the linear strategy: ext2/exofs-style variable-length
 * records in a byte stream the driver provides (format in linear.h).
 *
 * Records never move once written: an insert takes a free record or
 * splits the slack off the end of a live one, a remove merges the record
 * into its predecessor (or marks it free when it is first in its block).
 * So a record's offset is stable for its lifetime, which lets the
 * in-memory index (lindex.c) name records by offset. Each change is one
 * write of contiguous bytes, after the cookie reservation if one is due,
 * so a failed write leaves the stream and the index as they were.
 *
 * Readdir cookies are stored in the records and taken from a counter in
 * the header, never reused, so iteration in cookie order resumes exactly
 * (the same reasoning as Linux simple_offset_*: an entry's position never
 * changes, new entries always come after every position handed out).
 *
 * Deliberately not done: shrinking the stream when its tail blocks empty
 * (ext2 does not either), and any caching of record bytes: lookups read
 * the record through the callbacks, so the driver's cache decides.
 */
#include "dirlib/linear.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BUILD_CHUNK	(256u * 1024)

/* --- Record parser ------------------------------------------------------ */

int lin_parse_block(const unsigned char *blk, uint32_t bs, uint64_t base,
		    uint32_t start, unsigned opts,
		    int (*fn)(void *arg, const struct lin_rec *r), void *arg,
		    struct mixfs_err *err)
{
	struct lin_rec r;
	uint32_t pos = start;

	while (pos < bs) {
		const unsigned char *p = blk + pos;
		int ret;

		r.off = base + pos;
		r.pos = pos;
		if (bs - pos < LIN_REC_HDR)
			return mixfs_err_set(err, -EUCLEAN, "directory record "
					     "at offset %llu: header runs past "
					     "the end of its block",
					     (unsigned long long)r.off);
		r.ino = dir_get_le64(p);
		r.cookie = dir_get_le64(p + 8);
		r.rec_len = dir_get_le16(p + 16);
		r.name_len = p[18];
		r.type = p[19];
		r.name = (const char *)p + LIN_REC_HDR;
		if (r.rec_len == 0)
			return mixfs_err_set(err, -EUCLEAN, "directory record "
					     "at offset %llu: record length is "
					     "zero", (unsigned long long)r.off);
		if (r.rec_len < LIN_REC_HDR || r.rec_len % LIN_REC_ALIGN)
			return mixfs_err_set(err, -EUCLEAN, "directory record "
					     "at offset %llu: bad record length "
					     "%u", (unsigned long long)r.off,
					     r.rec_len);
		if (r.rec_len > bs - pos)
			return mixfs_err_set(err, -EUCLEAN, "directory record "
					     "at offset %llu: length %u runs "
					     "past the end of its block at "
					     "%llu", (unsigned long long)r.off,
					     r.rec_len,
					     (unsigned long long)(base + bs));
		if (r.ino) {
			if (r.name_len == 0 ||
			    lin_rec_size(r.name_len) > r.rec_len)
				return mixfs_err_set(err, -EUCLEAN,
					"directory record at offset %llu: name "
					"length %u runs past the record "
					"(length %u)", (unsigned long long)r.off,
					r.name_len, r.rec_len);
			if (!dir_name_ok(r.name, r.name_len, opts))
				return mixfs_err_set(err, -EUCLEAN,
					"directory record at offset %llu: "
					"invalid name", (unsigned long long)r.off);
			if (r.cookie < DIR_COOKIE_FIRST ||
			    r.cookie > DIR_COOKIE_MAX)
				return mixfs_err_set(err, -EUCLEAN,
					"directory record at offset %llu: "
					"cookie %llu out of range",
					(unsigned long long)r.off,
					(unsigned long long)r.cookie);
		}
		ret = fn(arg, &r);
		if (ret)
			return ret;
		pos += r.rec_len;
	}
	return 0;
}

/* --- Stream access ------------------------------------------------------ */

static int read_exact(struct dir_stream *s, uint64_t off, void *buf,
		      size_t len, struct mixfs_err *err)
{
	ssize_t n = s->ops->read(s, off, buf, len);

	if (n < 0)
		return mixfs_err_prefix(err, (int)n, "reading directory at "
					"offset %llu", (unsigned long long)off);
	if ((size_t)n != len)
		return mixfs_err_set(err, -EUCLEAN, "directory stream ends "
				     "inside the block at offset %llu",
				     (unsigned long long)off);
	return 0;
}

static int write_at(struct dir_stream *s, uint64_t off, const void *buf,
		    size_t len, struct mixfs_err *err)
{
	int ret = s->ops->write(s, off, buf, len);

	if (ret)
		return mixfs_err_prefix(err, ret, "writing directory at "
					"offset %llu", (unsigned long long)off);
	return 0;
}

static bool block_size_ok(uint32_t bs)
{
	return bs >= LIN_BLOCK_MIN && bs <= LIN_BLOCK_MAX && !(bs & (bs - 1));
}

struct lin_hdr {
	unsigned opts;
	uint32_t bs;
	uint64_t next_cookie;
};

static int hdr_read(struct dir_stream *s, struct lin_hdr *h,
		    struct mixfs_err *err)
{
	unsigned char b[LIN_HDR_LEN];
	ssize_t n = s->ops->read(s, 0, b, sizeof(b));

	if (n < 0)
		return mixfs_err_prefix(err, (int)n, "reading directory "
					"header");
	if (n != LIN_HDR_LEN || memcmp(b, LIN_MAGIC, 4))
		return mixfs_err_set(err, -EUCLEAN, "directory header at "
				     "offset 0: no directory magic");
	h->opts = dir_get_le32(b + 8);
	h->bs = dir_get_le32(b + 12);
	h->next_cookie = dir_get_le64(b + LIN_HDR_NEXT_COOKIE);
	if (b[4] != LIN_VERSION)
		return mixfs_err_set(err, -EUCLEAN, "directory header at "
				     "offset 0: unknown version %u", b[4]);
	if (h->opts & ~DIR_OPT_ALL)
		return mixfs_err_set(err, -EUCLEAN, "directory header at "
				     "offset 0: unknown options %#x", h->opts);
	if (!block_size_ok(h->bs))
		return mixfs_err_set(err, -EUCLEAN, "directory header at "
				     "offset 0: bad block size %u", h->bs);
	if (h->next_cookie < DIR_COOKIE_FIRST ||
	    h->next_cookie > DIR_COOKIE_MAX + 1)
		return mixfs_err_set(err, -EUCLEAN, "directory header at "
				     "offset 0: bad next cookie %llu",
				     (unsigned long long)h->next_cookie);
	if (s->block_size && s->block_size != h->bs)
		return mixfs_err_set(err, -EUCLEAN, "directory header at "
				     "offset 0: block size %u, but the stream "
				     "says %u", h->bs, s->block_size);
	return 0;
}

/* --- Building the index -------------------------------------------------- */

struct build_ctx {
	struct lin_index *x;
	struct dir_stream *s;
	uint64_t limit;		/* header's next cookie */
	uint32_t avail;		/* of the current block */
	struct mixfs_err *err;
};

static int read_rec(struct dir_stream *s, const struct lin_index *x,
		    uint64_t off, unsigned char *buf, struct lin_rec *r,
		    struct mixfs_err *err);

static int same_name(const struct lin_index *x, const char *a, size_t alen,
		     const char *b, size_t blen, bool *same,
		     struct mixfs_err *err)
{
	char fa[DIR_FOLD_MAX], fb[DIR_FOLD_MAX];
	size_t na, nb;
	int ret;

	if (!(x->opts & DIR_OPT_CASEFOLD)) {
		*same = alen == blen && !memcmp(a, b, alen);
		return 0;
	}
	ret = dir_fold(a, alen, x->opts, fa, &na, err);
	if (!ret)
		ret = dir_fold(b, blen, x->opts, fb, &nb, err);
	if (!ret)
		*same = na == nb && !memcmp(fa, fb, na);
	return ret;
}

static int name_hash(const struct lin_index *x, const char *name,
		     size_t len, uint64_t *hash, struct mixfs_err *err)
{
	char f[DIR_FOLD_MAX];
	size_t n;
	int ret = dir_fold(name, len, x->opts, f, &n, err);

	if (!ret)
		*hash = lin_hash(f, n);
	return ret;
}

/* A stored name equal to one already indexed is corruption. */
static int build_check_dup(struct build_ctx *c, const struct lin_rec *r,
			   uint64_t hash)
{
	unsigned char buf[LIN_REC_MAX];
	struct lin_rec o;
	size_t i = SIZE_MAX;
	uint64_t off;
	bool same;
	int ret;

	while ((off = lin_index_probe(c->x, hash, &i))) {
		ret = read_rec(c->s, c->x, off, buf, &o, c->err);
		if (!ret)
			ret = same_name(c->x, r->name, r->name_len, o.name,
					o.name_len, &same, c->err);
		if (ret)
			return ret;
		if (same)
			return mixfs_err_set(c->err, -EUCLEAN, "directory "
					     "record at offset %llu: name "
					     "\"%.*s\" already at offset %llu",
					     (unsigned long long)r->off,
					     r->name_len, r->name,
					     (unsigned long long)off);
	}
	return 0;
}

static int build_one(void *arg, const struct lin_rec *r)
{
	struct build_ctx *c = arg;
	uint32_t slack = lin_rec_slack(r);
	uint64_t hash;
	int ret;

	if (slack > c->avail)
		c->avail = slack;
	if (!r->ino)
		return 0;
	if (r->cookie >= c->limit)
		return mixfs_err_set(c->err, -EUCLEAN, "directory record at "
				     "offset %llu: cookie %llu not below the "
				     "header's next cookie %llu",
				     (unsigned long long)r->off,
				     (unsigned long long)r->cookie,
				     (unsigned long long)c->limit);
	ret = name_hash(c->x, r->name, r->name_len, &hash, c->err);
	if (!ret)
		ret = build_check_dup(c, r, hash);
	if (!ret)
		ret = lin_index_add(c->x, hash, r->off);
	if (!ret)
		ret = lin_cook_append(c->x, r->cookie, r->off);
	if (ret == -ENOMEM)
		return mixfs_err_set(c->err, ret, "out of memory building "
				     "the directory index");
	return ret;
}

static int build(struct dir_stream *s, struct lin_index **out,
		 struct mixfs_err *err)
{
	struct build_ctx c = { .s = s, .err = err };
	struct lin_hdr h;
	unsigned char *buf = NULL;
	uint64_t size, dup;
	int ret;

	ret = hdr_read(s, &h, err);
	if (ret)
		return ret;
	ret = s->ops->size(s, &size);
	if (ret)
		return mixfs_err_prefix(err, ret, "directory stream size");
	if (size < h.bs || size % h.bs)
		return mixfs_err_set(err, -EUCLEAN, "directory stream size "
				     "%llu is not a whole number of %u-byte "
				     "blocks", (unsigned long long)size, h.bs);
	c.x = lin_index_new(h.bs, h.opts);
	buf = malloc(size < BUILD_CHUNK ? size : BUILD_CHUNK);
	if (!c.x || !buf) {
		ret = mixfs_err_set(err, -ENOMEM, "out of memory building the "
				    "directory index");
		goto out_free;
	}
	c.limit = h.next_cookie;
	c.x->nblocks = size / h.bs;
	c.x->cookie_next = c.x->cookie_limit = h.next_cookie;
	ret = lin_tree_grow(c.x, c.x->nblocks);
	if (ret) {
		mixfs_err_set(err, ret, "out of memory building the directory "
			      "index");
		goto out_free;
	}
	for (uint64_t off = 0; off < size; ) {
		size_t n = size - off < BUILD_CHUNK ? size - off : BUILD_CHUNK;

		n -= n % h.bs;
		if (n == 0)
			n = h.bs;
		ret = read_exact(s, off, buf, n, err);
		if (ret)
			goto out_free;
		for (size_t b = 0; b < n; b += h.bs, off += h.bs) {
			c.avail = 0;
			ret = lin_parse_block(buf + b, h.bs, off,
					      off ? 0 : LIN_HDR_LEN, h.opts,
					      build_one, &c, err);
			if (ret)
				goto out_free;
			lin_tree_set(c.x, off / h.bs, c.avail);
		}
	}
	if (lin_cook_sort(c.x, &dup)) {
		ret = mixfs_err_set(err, -EUCLEAN, "directory records share "
				    "cookie %llu", (unsigned long long)dup);
		goto out_free;
	}
	free(buf);
	*out = c.x;
	return 0;
out_free:
	free(buf);
	lin_index_free(c.x);
	return ret;
}

static int index_get(struct dir *d, struct lin_index **x,
		     struct mixfs_err *err)
{
	int ret = 0;

	if (!d->stream->index)
		ret = build(d->stream, (struct lin_index **)&d->stream->index,
			    err);
	*x = d->stream->index;
	return ret;
}

void dir_stream_release(struct dir_stream *s)
{
	lin_index_free(s->index);
	s->index = NULL;
}

/* --- Records through the index ------------------------------------------- */

static int stale(struct dir_stream *s, uint64_t off, struct mixfs_err *err)
{
	dir_stream_release(s);
	return mixfs_err_set(err, -EUCLEAN, "directory index names offset %llu, "
			     "which holds no such entry (was the stream "
			     "changed outside the directory library?)",
			     (unsigned long long)off);
}

/* Read and check the live record at @off into @buf (LIN_REC_MAX bytes). */
static int read_rec(struct dir_stream *s, const struct lin_index *x,
		    uint64_t off, unsigned char *buf, struct lin_rec *r,
		    struct mixfs_err *err)
{
	uint64_t end = (off / x->bs + 1) * x->bs;
	size_t n = end - off < LIN_REC_MAX ? end - off : LIN_REC_MAX;
	int ret;

	if (n < LIN_REC_HDR)
		return stale(s, off, err);
	ret = read_exact(s, off, buf, n, err);
	if (ret)
		return ret;
	r->off = off;
	r->pos = (uint32_t)(off % x->bs);
	r->ino = dir_get_le64(buf);
	r->cookie = dir_get_le64(buf + 8);
	r->rec_len = dir_get_le16(buf + 16);
	r->name_len = buf[18];
	r->type = buf[19];
	r->name = (const char *)buf + LIN_REC_HDR;
	if (!r->ino || !r->name_len || (size_t)LIN_REC_HDR + r->name_len > n ||
	    lin_rec_size(r->name_len) > r->rec_len)
		return stale(s, off, err);
	return 0;
}

static void rec_to_entry(const struct lin_rec *r, struct dir_entry *e)
{
	e->ino = r->ino;
	e->cookie = r->cookie;
	e->type = r->type;
	e->namelen = r->name_len;
	memcpy(e->name, r->name, r->name_len);
	e->name[r->name_len] = '\0';
}

/* Find @name: 0 with *@r filled (from @buf) and *@hash, or -ENOENT. */
static int find(struct dir *d, struct lin_index *x, const char *name,
		size_t len, unsigned char *buf, struct lin_rec *r,
		uint64_t *hash, struct mixfs_err *err)
{
	size_t i = SIZE_MAX;
	uint64_t off;
	bool same;
	int ret = name_hash(x, name, len, hash, err);

	if (ret)
		return ret;
	while ((off = lin_index_probe(x, *hash, &i))) {
		ret = read_rec(d->stream, x, off, buf, r, err);
		if (!ret)
			ret = same_name(x, name, len, r->name, r->name_len,
					&same, err);
		if (ret)
			return ret;
		if (same)
			return 0;
	}
	return -ENOENT;
}

static int not_found(struct mixfs_err *err, const char *name, size_t len)
{
	return mixfs_err_set(err, -ENOENT, "no entry \"%.*s\"", (int)len,
			     name);
}

/* --- Block changes ------------------------------------------------------- */

struct slot_ctx {
	uint32_t need;
	uint32_t avail;
	bool found;
	struct lin_rec at;
};

static int first_fit(void *arg, const struct lin_rec *r)
{
	struct slot_ctx *c = arg;

	if (lin_rec_slack(r) >= c->need) {
		c->at = *r;
		c->found = true;
		return 1;
	}
	return 0;
}

static int max_slack(void *arg, const struct lin_rec *r)
{
	struct slot_ctx *c = arg;
	uint32_t slack = lin_rec_slack(r);

	if (slack > c->avail)
		c->avail = slack;
	return 0;
}

static uint32_t block_start(uint64_t block)
{
	return block ? 0 : LIN_HDR_LEN;
}

/* Recompute a block's largest slot from its (changed) bytes. */
static int block_retree(struct lin_index *x, uint64_t block,
			const unsigned char *blk, struct mixfs_err *err)
{
	struct slot_ctx c = { 0 };
	int ret = lin_parse_block(blk, x->bs, block * x->bs,
				  block_start(block), x->opts, max_slack, &c,
				  err);

	if (!ret)
		lin_tree_set(x, block, c.avail);
	return ret;
}

static void rec_write(unsigned char *p, uint64_t ino, uint64_t cookie,
		      uint32_t rec_len, const char *name, size_t len,
		      unsigned char type)
{
	dir_put_le64(p, ino);
	dir_put_le64(p + 8, cookie);
	dir_put_le16(p + 16, (uint16_t)rec_len);
	p[18] = (unsigned char)len;
	p[19] = type;
	memcpy(p + LIN_REC_HDR, name, len);
}

/* Make sure x->cookie_next is covered by the header's counter. */
static int cookie_reserve(struct dir_stream *s, struct lin_index *x,
			  struct mixfs_err *err)
{
	unsigned char b[8];
	uint64_t limit;
	int ret;

	if (x->cookie_next > DIR_COOKIE_MAX)
		return mixfs_err_set(err, -ENOSPC, "directory has used every "
				     "cookie");
	if (x->cookie_next < x->cookie_limit)
		return 0;
	limit = x->cookie_limit + LIN_COOKIE_BATCH;
	if (limit > DIR_COOKIE_MAX + 1)
		limit = DIR_COOKIE_MAX + 1;
	dir_put_le64(b, limit);
	ret = write_at(s, LIN_HDR_NEXT_COOKIE, b, sizeof(b), err);
	if (ret)
		return ret;
	x->cookie_limit = limit;
	return 0;
}

/* Write a new record into @block (which has room) or a new block. */
static int place(struct dir *d, struct lin_index *x, uint64_t block,
		 const char *name, size_t len, uint64_t ino,
		 unsigned char type, uint64_t cookie, unsigned char *blk,
		 uint64_t *off, struct mixfs_err *err)
{
	struct slot_ctx c = { .need = lin_rec_size((unsigned)len) };
	uint64_t base = block * x->bs;
	uint32_t pos, end, rec_len;
	int ret;

	if (block == x->nblocks) {
		/* A fresh block: the new record's slack covers the rest. */
		ret = lin_tree_grow(x, x->nblocks + 1);
		if (ret)
			return mixfs_err_set(err, ret, "out of memory");
		memset(blk, 0, x->bs);
		rec_write(blk, ino, cookie, x->bs, name, len, type);
		ret = write_at(d->stream, base, blk, x->bs, err);
		if (ret)
			return ret;
		x->nblocks++;
		*off = base;
		return block_retree(x, block, blk, err);
	}
	ret = read_exact(d->stream, base, blk, x->bs, err);
	if (!ret)
		ret = lin_parse_block(blk, x->bs, base, block_start(block),
				      x->opts, first_fit, &c, err);
	if (ret < 0)
		return ret;
	if (!c.found)
		return stale(d->stream, base, err);
	if (c.at.ino) {
		/* Split the slack off the end of a live record. */
		uint32_t keep = lin_rec_size(c.at.name_len);

		pos = c.at.pos + keep;
		rec_len = c.at.rec_len - keep;
		dir_put_le16(blk + c.at.pos + 16, (uint16_t)keep);
	} else {
		pos = c.at.pos;
		rec_len = c.at.rec_len;
	}
	rec_write(blk + pos, ino, cookie, rec_len, name, len, type);
	end = pos + LIN_REC_HDR + (uint32_t)len;
	ret = write_at(d->stream, base + c.at.pos, blk + c.at.pos,
		       end - c.at.pos, err);
	if (ret)
		return ret;
	*off = base + pos;
	return block_retree(x, block, blk, err);
}

struct pred_ctx {
	uint32_t pos;
	bool found;
	bool has_prev;
	struct lin_rec prev;
};

static int find_pred(void *arg, const struct lin_rec *r)
{
	struct pred_ctx *c = arg;

	if (r->pos == c->pos) {
		c->found = true;
		return 1;
	}
	c->prev = *r;
	c->has_prev = true;
	return 0;
}

/* Take the record at @off out of its block. */
static int unplace(struct dir *d, struct lin_index *x, uint64_t off,
		   unsigned char *blk, struct mixfs_err *err)
{
	uint64_t block = off / x->bs, base = block * x->bs;
	struct pred_ctx c = { .pos = (uint32_t)(off - base) };
	int ret;

	ret = read_exact(d->stream, base, blk, x->bs, err);
	if (!ret)
		ret = lin_parse_block(blk, x->bs, base, block_start(block),
				      x->opts, find_pred, &c, err);
	if (ret < 0)
		return ret;
	if (!c.found)
		return stale(d->stream, off, err);
	if (c.has_prev) {
		uint16_t len = dir_get_le16(blk + c.pos + 16);

		dir_put_le16(blk + c.prev.pos + 16,
			     (uint16_t)(c.prev.rec_len + len));
		ret = write_at(d->stream, base + c.prev.pos + 16,
			       blk + c.prev.pos + 16, 2, err);
	} else {
		dir_put_le64(blk + c.pos, 0);
		ret = write_at(d->stream, off, blk + c.pos, 8, err);
	}
	if (ret)
		return ret;
	return block_retree(x, block, blk, err);
}

/* --- Operations ---------------------------------------------------------- */

int dir_linear_create(struct dir_stream *s, unsigned opts,
		      struct mixfs_err *err)
{
	uint32_t bs = s->block_size ? s->block_size : LIN_BLOCK_DEFAULT;
	unsigned char *blk;
	uint64_t size;
	int ret;

	if (opts & ~DIR_OPT_ALL)
		return mixfs_err_set(err, -EINVAL, "unknown directory options "
				     "%#x", opts & ~DIR_OPT_ALL);
	if (!block_size_ok(bs))
		return mixfs_err_set(err, -EINVAL, "block size %u is not a "
				     "power of two from %d to %d", bs,
				     LIN_BLOCK_MIN, LIN_BLOCK_MAX);
	ret = s->ops->size(s, &size);
	if (ret)
		return mixfs_err_prefix(err, ret, "directory stream size");
	if (size)
		return mixfs_err_set(err, -EEXIST, "directory stream is not "
				     "empty (%llu bytes)",
				     (unsigned long long)size);
	blk = calloc(1, bs);
	if (!blk)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	memcpy(blk, LIN_MAGIC, 4);
	blk[4] = LIN_VERSION;
	dir_put_le32(blk + 8, opts);
	dir_put_le32(blk + 12, bs);
	dir_put_le64(blk + LIN_HDR_NEXT_COOKIE, DIR_COOKIE_FIRST);
	dir_put_le16(blk + LIN_HDR_LEN + 16, (uint16_t)(bs - LIN_HDR_LEN));
	ret = write_at(s, 0, blk, bs, err);
	free(blk);
	if (!ret)
		dir_stream_release(s);
	return ret;
}

int dir_linear_init(struct dir *d, struct dir_stream *s,
		    struct mixfs_err *err)
{
	struct lin_hdr h;
	int ret = hdr_read(s, &h, err);

	if (ret)
		return ret;
	memset(d, 0, sizeof(*d));
	d->strategy = &dir_linear_strategy;
	d->stream = s;
	d->opts = h.opts;
	return 0;
}

static int lin_lookup(struct dir *d, const char *name, size_t len,
		      struct dir_entry *e, struct mixfs_err *err)
{
	unsigned char buf[LIN_REC_MAX];
	struct lin_index *x;
	struct lin_rec r;
	uint64_t hash;
	int ret = index_get(d, &x, err);

	if (!ret)
		ret = find(d, x, name, len, buf, &r, &hash, err);
	if (ret == -ENOENT)
		return not_found(err, name, len);
	if (!ret)
		rec_to_entry(&r, e);
	return ret;
}

static int lin_insert(struct dir *d, const char *name, size_t len,
		      uint64_t ino, unsigned char type, struct mixfs_err *err)
{
	unsigned char buf[LIN_REC_MAX], *blk;
	struct lin_index *x;
	struct lin_rec r;
	uint64_t hash, block, off = 0;
	int ret = index_get(d, &x, err);

	if (ret)
		return ret;
	ret = find(d, x, name, len, buf, &r, &hash, err);
	if (ret == 0)
		return mixfs_err_set(err, -EEXIST, "\"%.*s\" exists (as "
				     "\"%.*s\")", (int)len, name, r.name_len,
				     r.name);
	if (ret != -ENOENT)
		return ret;
	/* Everything that can fail for lack of memory comes first. */
	if (lin_index_add(x, hash, UINT64_MAX) ||
	    lin_cook_append(x, x->cookie_next, UINT64_MAX))
		goto out_nomem;
	x->cook_n--;
	lin_index_del(x, hash, UINT64_MAX);
	blk = malloc(x->bs);
	if (!blk)
		goto out_nomem;
	ret = cookie_reserve(d->stream, x, err);
	if (ret)
		goto out_free;
	block = lin_tree_find(x, lin_rec_size((unsigned)len));
	if (block == UINT64_MAX)
		block = x->nblocks;
	ret = place(d, x, block, name, len, ino, type, x->cookie_next, blk,
		    &off, err);
	if (ret)
		goto out_free;
	/* Room was made above, so these cannot fail. */
	lin_index_add(x, hash, off);
	lin_cook_append(x, x->cookie_next++, off);
out_free:
	free(blk);
	return ret;
out_nomem:
	return mixfs_err_set(err, -ENOMEM, "out of memory");
}

static int lin_remove(struct dir *d, const char *name, size_t len,
		      struct dir_entry *e, struct mixfs_err *err)
{
	unsigned char buf[LIN_REC_MAX], *blk;
	struct lin_index *x;
	struct lin_rec r;
	struct dir_entry old;
	uint64_t hash;
	int ret = index_get(d, &x, err);

	if (!ret)
		ret = find(d, x, name, len, buf, &r, &hash, err);
	if (ret == -ENOENT)
		return not_found(err, name, len);
	if (ret)
		return ret;
	rec_to_entry(&r, &old);
	blk = malloc(x->bs);
	if (!blk)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	ret = unplace(d, x, r.off, blk, err);
	free(blk);
	if (ret)
		return ret;
	lin_index_del(x, hash, r.off);
	lin_cook_del(x, old.cookie);
	if (e)
		*e = old;
	return 0;
}

static int lin_replace(struct dir *d, const char *name, size_t len,
		       uint64_t ino, unsigned char type, struct dir_entry *old,
		       struct mixfs_err *err)
{
	unsigned char buf[LIN_REC_MAX];
	struct lin_index *x;
	struct lin_rec r;
	struct dir_entry was;
	uint64_t hash;
	int ret = index_get(d, &x, err);

	if (!ret)
		ret = find(d, x, name, len, buf, &r, &hash, err);
	if (ret == -ENOENT)
		return not_found(err, name, len);
	if (ret)
		return ret;
	rec_to_entry(&r, &was);
	/* One write of the record header: ino and type change together. */
	dir_put_le64(buf, ino);
	buf[19] = type;
	ret = write_at(d->stream, r.off, buf, LIN_REC_HDR, err);
	if (ret)
		return ret;
	if (old)
		*old = was;
	return 0;
}

static int lin_count(struct dir *d, uint64_t *count, struct mixfs_err *err)
{
	struct lin_index *x;
	int ret = index_get(d, &x, err);

	if (!ret)
		*count = x->live;
	return ret;
}

static int lin_iterate(struct dir *d, uint64_t after,
		       int (*fn)(void *arg, const struct dir_entry *e),
		       void *arg, struct mixfs_err *err)
{
	struct lin_index *x;
	struct dir_entry e;
	unsigned char *blk;
	uint64_t cached = UINT64_MAX;
	int ret = index_get(d, &x, err);

	if (ret)
		return ret;
	blk = malloc(x->bs);
	if (!blk)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	/* Entries in cookie order are mostly in stream order: read a block
	 * once and take its records from memory while they last. */
	for (size_t i = lin_cook_after(x, after); i < x->cook_n; i++) {
		uint64_t off = x->cook[i].off, block = off / x->bs;
		const unsigned char *p;
		struct lin_rec r;
		uint32_t pos;

		if (!off)
			continue;
		if (block != cached) {
			ret = read_exact(d->stream, block * x->bs, blk, x->bs,
					 err);
			if (ret)
				break;
			cached = block;
		}
		pos = (uint32_t)(off % x->bs);
		p = blk + pos;
		r.ino = dir_get_le64(p);
		r.cookie = dir_get_le64(p + 8);
		r.rec_len = dir_get_le16(p + 16);
		r.name_len = p[18];
		r.type = p[19];
		r.name = (const char *)p + LIN_REC_HDR;
		if (x->bs - pos < LIN_REC_HDR + (uint32_t)r.name_len ||
		    !r.ino || !r.name_len || r.cookie != x->cook[i].cookie) {
			ret = stale(d->stream, off, err);
			break;
		}
		rec_to_entry(&r, &e);
		ret = fn(arg, &e);
		if (ret)
			break;
	}
	free(blk);
	return ret;
}

static int lin_destroy(struct dir *d, struct mixfs_err *err)
{
	int ret = d->stream->ops->truncate(d->stream, 0);

	dir_stream_release(d->stream);
	if (ret)
		return mixfs_err_prefix(err, ret, "truncating directory stream");
	return 0;
}

const struct dir_strategy dir_linear_strategy = {
	.name = "linear",
	.lookup = lin_lookup,
	.insert = lin_insert,
	.remove = lin_remove,
	.replace = lin_replace,
	.count = lin_count,
	.iterate = lin_iterate,
	.destroy = lin_destroy,
};
