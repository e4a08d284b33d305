/*
 * serial.c - the serialised form of an allocator (layout in balloc.h):
 * writing it, and loading it back with every field checked, since the
 * buffer comes from storage and may be truncated or corrupt.
 *
 * Both encodings are written from the implementation's free-extent walk and
 * read back through mark_used, so any encoding loads into any
 * implementation. Loading trusts nothing before the checksum matches, and
 * after it still checks that the contents agree with themselves (a bug in
 * an older writer must not become a wrong map).
 *
 * Not here: where the buffer is stored (the driver's business).
 */
#include "alloclib/balloc_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <xxhash.h>

#define MAGIC "MXBALLOC"
#define HDR_SIZE 48
#define SUM_SIZE 8

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int count_cb(void *arg, uint64_t start, uint64_t len)
{
	(void)start;
	(void)len;
	(*(uint64_t *)arg)++;
	return 0;
}

static uint64_t count_extents(const struct balloc *a)
{
	uint64_t n = 0;

	a->ops->iterate_free(a, 0, count_cb, &n);
	return n;
}

static uint64_t body_size(const struct balloc *a, uint64_t next)
{
	if (a->ops->encoding == BALLOC_ENC_BITMAP)
		return (a->nblocks + 7) / 8;
	return next * 16;
}

size_t balloc_serial_size(const struct balloc *a)
{
	uint64_t next = a->ops->encoding == BALLOC_ENC_EXTENTS ?
			count_extents(a) : 0;

	return HDR_SIZE + body_size(a, next) + SUM_SIZE;
}

/* Bitmap body: start all ones (in use), clear each free extent's bits. */
static int clear_bits_cb(void *arg, uint64_t start, uint64_t len)
{
	unsigned char *body = arg;
	uint64_t b = start, end = start + len;

	while (b < end) {
		if (b % 8 == 0 && end - b >= 8) {
			uint64_t bytes = (end - b) / 8;

			memset(body + b / 8, 0, bytes);
			b += bytes * 8;
		} else {
			body[b / 8] &= (unsigned char)~(1u << (b % 8));
			b++;
		}
	}
	return 0;
}

static int put_extent_cb(void *arg, uint64_t start, uint64_t len)
{
	unsigned char **p = arg;

	put64(*p, start);
	put64(*p + 8, len);
	*p += 16;
	return 0;
}

int balloc_serialise(const struct balloc *a, void *buf, size_t cap,
		     size_t *len, struct mixfs_err *err)
{
	unsigned char *p = buf, *body = p + HDR_SIZE;
	uint64_t next = count_extents(a), bsize = body_size(a, next);
	size_t need = HDR_SIZE + bsize + SUM_SIZE;

	*len = need;
	if (cap < need)
		return mixfs_err_set(err, -ERANGE,
				     "serialise: %zu bytes needed, buffer holds %zu",
				     need, cap);
	memcpy(p, MAGIC, 8);
	put16(p + 8, BALLOC_FORMAT_VERSION);
	put16(p + 10, (uint16_t)a->ops->encoding);
	put32(p + 12, a->block_size);
	put64(p + 16, a->nblocks);
	put64(p + 24, a->nfree);
	put64(p + 32, a->ops->encoding == BALLOC_ENC_EXTENTS ? next : 0);
	put64(p + 40, bsize);
	if (a->ops->encoding == BALLOC_ENC_BITMAP) {
		memset(body, 0xff, bsize);
		if (a->nblocks % 8)	/* padding bits past the end are 0 */
			body[bsize - 1] = (unsigned char)((1u << (a->nblocks % 8)) - 1);
		a->ops->iterate_free(a, 0, clear_bits_cb, body);
	} else {
		unsigned char *q = body;

		a->ops->iterate_free(a, 0, put_extent_cb, &q);
	}
	put64(body + bsize, XXH3_64bits(p, HDR_SIZE + bsize));
	return 0;
}

static int corrupt(struct mixfs_err *err, const char *what)
{
	return mixfs_err_set(err, -EUCLEAN, "allocation map is corrupt: %s",
			     what);
}

/* Mark in use every block of the bitmap body that has its bit set. */
static int load_bitmap(struct balloc *a, const unsigned char *body,
		       uint64_t nfree, struct mixfs_err *err)
{
	uint64_t b = 0, n = a->nblocks, used = 0;
	int ret;

	if (n % 8 && body[n / 8] >> (n % 8))
		return corrupt(err, "bits set past the last block");
	while (b < n) {
		uint64_t s;

		/* skip free blocks, a byte at a time where possible */
		while (b < n && !(body[b / 8] >> (b % 8) & 1)) {
			if (b % 8 == 0 && body[b / 8] == 0)
				b += 8;
			else
				b++;
		}
		if (b >= n)
			break;
		s = b;
		while (b < n && body[b / 8] >> (b % 8) & 1) {
			if (b % 8 == 0 && body[b / 8] == 0xff && n - b >= 8)
				b += 8;
			else
				b++;
		}
		ret = a->ops->mark_used(a, s, b - s);
		if (ret < 0)
			return mixfs_err_set(err, ret, "load: out of memory");
		used += b - s;
	}
	if (n - used != nfree)
		return corrupt(err, "free count disagrees with the bitmap");
	return 0;
}

static int load_extents(struct balloc *a, const unsigned char *body,
			uint64_t next, uint64_t nfree, struct mixfs_err *err)
{
	uint64_t i, pos = 0, total = 0;
	int ret;

	for (i = 0; i < next; i++) {
		uint64_t s = get64(body + 16 * i), l = get64(body + 16 * i + 8);

		if (l == 0 || s >= a->nblocks || l > a->nblocks - s)
			return corrupt(err, "free extent empty or outside the space");
		if (i > 0 && s <= pos)
			return corrupt(err, "free extents overlap, touch or are out of order");
		if (s > pos) {
			ret = a->ops->mark_used(a, pos, s - pos);
			if (ret < 0)
				return mixfs_err_set(err, ret, "load: out of memory");
		}
		pos = s + l;
		total += l;
	}
	if (pos < a->nblocks) {
		ret = a->ops->mark_used(a, pos, a->nblocks - pos);
		if (ret < 0)
			return mixfs_err_set(err, ret, "load: out of memory");
	}
	if (total != nfree)
		return corrupt(err, "free count disagrees with the extents");
	return 0;
}

int balloc_load(struct balloc *a, const char *kind, const void *buf,
		size_t len, struct mixfs_err *err)
{
	const unsigned char *p = buf;
	uint64_t nblocks, nfree, next, bsize;
	uint32_t block_size;
	uint16_t version, enc;
	int ret;

	memset(a, 0, sizeof(*a));
	if (len < HDR_SIZE + SUM_SIZE)
		return corrupt(err, "buffer shorter than the header");
	if (memcmp(p, MAGIC, 8) != 0)
		return corrupt(err, "bad magic");
	version = get16(p + 8);
	if (version != BALLOC_FORMAT_VERSION)
		return mixfs_err_set(err, -EUCLEAN,
				     "allocation map has format version %u, this library reads %u",
				     version, BALLOC_FORMAT_VERSION);
	bsize = get64(p + 40);
	if (bsize != len - HDR_SIZE - SUM_SIZE)
		return mixfs_err_set(err, -EUCLEAN,
				     "allocation map is corrupt: body of %" PRIu64 " bytes in a %zu-byte buffer (truncated?)",
				     bsize, len);
	if (XXH3_64bits(p, len - SUM_SIZE) != get64(p + len - SUM_SIZE))
		return corrupt(err, "checksum mismatch");

	enc = get16(p + 10);
	block_size = get32(p + 12);
	nblocks = get64(p + 16);
	nfree = get64(p + 24);
	next = get64(p + 32);
	if (nfree > nblocks)
		return corrupt(err, "more free blocks than blocks");
	if (enc == BALLOC_ENC_BITMAP) {
		if (next != 0 || bsize != (nblocks + 7) / 8)
			return corrupt(err, "bitmap size does not match the block count");
	} else if (enc == BALLOC_ENC_EXTENTS) {
		if (next > bsize / 16 || bsize != next * 16)
			return corrupt(err, "extent list size does not match its count");
	} else {
		return corrupt(err, "unknown encoding");
	}
	if (block_size < 64 || block_size > (16u << 20) ||
	    (block_size & (block_size - 1)))
		return corrupt(err, "impossible block size");
	if (nblocks == 0 || nblocks > UINT64_MAX / 2)
		return corrupt(err, "impossible block count");
	if (!kind)
		kind = enc == BALLOC_ENC_BITMAP ? "bitmap" : "extent";
	ret = balloc_init(a, kind, nblocks, block_size, err);
	if (ret < 0)
		return ret;
	if (enc == BALLOC_ENC_BITMAP)
		ret = load_bitmap(a, p + HDR_SIZE, nfree, err);
	else
		ret = load_extents(a, p + HDR_SIZE, next, nfree, err);
	if (ret < 0) {
		balloc_release(a);
		return ret;
	}
	a->nfree = nfree;
	return 0;
}
