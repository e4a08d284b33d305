/*
 * dir_data.c - the data of dir: objects: segments, their checksum files,
 * and the calls that read and change bytes (read, write, truncate, punch)
 * or report them (stat).
 *
 * The file layout and the checksum rules, pairs of checksums included,
 * are described at the top of dir.c; this file follows them, and keeps
 * the open object's record of the chunks changed since the last sync
 * (struct dchunks) that the pairs need. It does not open the store, name
 * objects or handle attributes: dir.c does, and hands an open object
 * (struct obj) to the calls here; nor does it keep that record across
 * the object's stays in the cache (dir_cache.c does).
 */
#include "objstore/dir_internal.h"

#include <endian.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <xxhash.h>

/* --- checksums of chunks ------------------------------------------------- */

static uint64_t chunk_sum(const unsigned char *chunk)
{
	uint64_t h = XXH3_64bits(chunk, CHUNK);

	return h ? h : 1;
}

static bool all_zero(const unsigned char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && !memcmp(p, p + 1, n - 1));
}

/* --- segments ----------------------------------------------------------- */

/* The piece of [@pos, @end) inside one segment: its number in *@no, the
 * offset in it in *@soff; returns the piece's length. */
static uint64_t seg_piece(uint64_t pos, uint64_t end, uint64_t *no,
			  uint64_t *soff)
{
	*no = pos >> SEG_SHIFT;
	*soff = pos & (SEG_SIZE - 1);
	return end - pos < SEG_SIZE - *soff ? end - pos : SEG_SIZE - *soff;
}

/* Open the file @name of @o for segment use into *@fd and its length into
 * *@len; an absent file leaves *@fd at -1 unless @create. */
static int seg_file(const struct obj *o, const char *name, bool create,
		    int *fd, uint64_t *len)
{
	int flags = O_CLOEXEC | (create ? O_CREAT : 0);
	struct stat st;

	/* Read-write even to read: the same open files serve later writes. */
	flags |= o->ro ? O_RDONLY : O_RDWR;
	*fd = openat(o->odfd, name, flags, 0644);
	if (*fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(*fd, &st)) {
		int ret = -errno;

		close(*fd);
		*fd = -1;
		return ret;
	}
	*len = (uint64_t)st.st_size;
	return 0;
}

/*
 * Data in @g's file past what its checksums cover, or past the chunk
 * holding the object's size (a truncate leaves the data file at the end
 * of that chunk, seg_truncate() says why), was appended after the last
 * sync, and the power went before its checksums or the new size reached
 * the disk: the host wrote the data back first. It is not the object's:
 * reads stop short of it, and a read-write store cuts it off (at a chunk
 * boundary), so that a later write or a growing size never finds it.
 */
static int seg_leftover(const struct obj *o, struct seg *g,
			struct mixfs_err *err)
{
	uint64_t base = g->no << SEG_SHIFT, lim = g->nsums * CHUNK;
	uint64_t top = (o->size + CHUNK - 1) / CHUNK * CHUNK;

	if (top - base < lim || top < base)
		lim = top > base ? top - base : 0;
	if (g->dsize <= lim)
		return 0;
	if (!o->ro && ftruncate(g->dfd, (off_t)lim))
		return oerr(err, -errno, o->id, "segment %" PRIx64 ": cutting "
			    "data past its checksums: %s", g->no,
			    strerror(errno));
	g->dsize = lim;
	return 0;
}

/*
 * Open the files of segment @no of @o that @g lacks. Reading, absent files
 * mean all holes; @create makes them. A file opened now is checked against
 * the others and the object's size.
 */
static int seg_open(const struct obj *o, uint64_t no, bool create,
		    struct seg *g, struct mixfs_err *err)
{
	char dname[24], sname[24];
	bool fresh = false;
	uint64_t len = 0;
	int ret = 0;

	if (g->no != no) {
		g->no = no;
		g->dfd = g->sfd = -1;
		g->dsize = g->nsums = 0;
	}
	snprintf(dname, sizeof(dname), "%" PRIx64, no);
	snprintf(sname, sizeof(sname), "%" PRIx64 ".sum", no);
	if (g->dfd < 0) {
		ret = seg_file(o, dname, create, &g->dfd, &len);
		g->dsize = g->dfd < 0 ? 0 : len;
		fresh = true;
	}
	if (!ret && g->sfd < 0) {
		len = 0;
		ret = seg_file(o, sname, create, &g->sfd, &len);
		g->nsums = len / (o->pairs ? 16 : 8);
		fresh = true;
		if (!ret && len % (o->pairs ? 16 : 8))
			goto out_corrupt;
	}
	if (ret) {
		objstore_dir_seg_close(g);
		return oerr(err, ret, o->id, "segment %" PRIx64 ": %s", no,
			    strerror(-ret));
	}
	if (fresh && g->dsize > SEG_SIZE)
		goto out_corrupt;
	if (fresh)
		ret = seg_leftover(o, g, err);
	if (ret)
		objstore_dir_seg_close(g);
	return ret;

out_corrupt:
	ret = oerr(err, -EUCLEAN, o->id,
		   "segment %" PRIx64 " holds %" PRIu64 " bytes of data but %"
		   PRIu64 " checksums (object size %" PRIu64 ")", no,
		   g->dsize, g->nsums, o->size);
	objstore_dir_seg_close(g);
	return ret;
}

/*
 * Segment @no of @o, open: a slot of @o's (kept open after the call) or,
 * when every slot is taken and the caller holds only the shared lock,
 * @tmp. Finish with seg_put(). @create (exclusive lock only) makes absent
 * files. The slot stays valid until the object's lock is released.
 */
static int seg_get(struct obj *o, uint64_t no, bool create, struct seg *tmp,
		   struct seg **out, struct mixfs_err *err)
{
	struct seg *g = NULL;
	unsigned i;
	int ret = 0;

	pthread_mutex_lock(&o->seg_mu);
	for (i = 0; i < OBJ_SEGS && !g; i++)
		if (o->segs[i].no == no)
			g = &o->segs[i];
	if (g && (!create || (g->dfd >= 0 && g->sfd >= 0)))
		goto out_unlock;	/* the common case: no system call */
	for (i = 0; i < OBJ_SEGS && !g; i++)
		if (o->segs[i].no == SEG_NONE)
			g = &o->segs[i];
	if (!g && o->excl) {
		/* Only the exclusive holder may close a slot: holders of
		 * the shared lock may be reading through any of them. */
		g = &o->segs[o->seg_clock++ % OBJ_SEGS];
		objstore_dir_seg_close(g);
	}
	if (!g) {
		tmp->no = SEG_NONE;
		tmp->dfd = tmp->sfd = -1;
		g = tmp;
	}
	ret = seg_open(o, no, create, g, err);
out_unlock:
	pthread_mutex_unlock(&o->seg_mu);
	*out = g;
	return ret;
}

static void seg_put(struct seg *g, struct seg *tmp)
{
	if (g == tmp)
		objstore_dir_seg_close(tmp);
}

/* Close segment @no's files if @o keeps them open (exclusive lock). */
static void seg_forget(struct obj *o, uint64_t no)
{
	unsigned i;

	for (i = 0; i < OBJ_SEGS; i++)
		if (o->segs[i].no == no)
			objstore_dir_seg_close(&o->segs[i]);
}

/* The data file of @g now reaches at least @end. */
static void seg_grew(struct seg *g, uint64_t end)
{
	if (end > g->dsize)
		g->dsize = end;
}

/* Segment numbers that have files, ascending, into *@out (caller frees). */
static int seg_list(struct obj *o, uint64_t **out, size_t *n,
		    struct mixfs_err *err)
{
	size_t cap = 0, i, k;
	struct dirent *de;
	DIR *d = dir_stream(o->odfd, ".");

	*out = NULL;
	*n = 0;
	if (!d)
		return oerr(err, -errno, o->id, "%s", strerror(errno));
	while ((de = readdir(d))) {
		char *end;
		uint64_t no = strtoull(de->d_name, &end, 16);

		if (end == de->d_name || (*end && strcmp(end, ".sum")))
			continue;
		if (*n == cap) {
			uint64_t *p = realloc(*out, (cap = cap * 2 + 8) * 8);

			if (!p) {
				closedir(d);
				free(*out);
				return mixfs_err_set(err, -ENOMEM, "out of memory");
			}
			*out = p;
		}
		(*out)[(*n)++] = no;
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(**out), u64_cmp);
	for (i = 0, k = 0; i < *n; i++)	/* data and .sum name each twice */
		if (!k || (*out)[k - 1] != (*out)[i])
			(*out)[k++] = (*out)[i];
	*n = k;
	return 0;
}

/* --- chunks changed since the last sync ---------------------------------- */

/* The number in its object of chunk @idx of segment @g. */
static uint64_t chunk_no(const struct seg *g, uint64_t idx)
{
	return (g->no << SEG_SHIFT) / CHUNK + idx;
}

/* Index of the first range of @dc ending at or after @c. */
static size_t dc_find(const struct dchunks *dc, uint64_t c)
{
	size_t lo = 0, hi = dc->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (dc->r[mid][1] < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool dc_has(const struct dchunks *dc, uint64_t c)
{
	size_t i;

	if (!dc || !dc->n)
		return false;
	i = dc_find(dc, c);
	return i < dc->n && dc->r[i][0] <= c && c < dc->r[i][1];
}

/*
 * Note chunks [@a, @b) of @o as changed since the last sync. Called
 * before the change, so that failing (-ENOMEM) leaves everything as it
 * was. A no-op in a version 1 store, which has nowhere to keep the
 * synced checksum.
 */
static int dc_add(struct obj *o, uint64_t a, uint64_t b,
		  struct mixfs_err *err)
{
	struct dchunks *dc = o->dc;
	size_t lo, hi;

	if (!o->pairs || a >= b)
		return 0;
	if (!dc) {
		dc = calloc(1, sizeof(*dc));
		if (!dc)
			return mixfs_err_set(err, -ENOMEM, "out of memory");
		o->dc = dc;
	}
	if (dc->n == dc->cap) {
		size_t cap = dc->cap ? dc->cap * 2 : 8;
		uint64_t (*r)[2] = realloc(dc->r, cap * sizeof(*r));

		if (!r)
			return mixfs_err_set(err, -ENOMEM, "out of memory");
		dc->r = r;
		dc->cap = cap;
	}
	/* Ranges [lo, hi) overlap or touch [a, b): they become one. */
	lo = dc_find(dc, a);
	for (hi = lo; hi < dc->n && dc->r[hi][0] <= b; hi++)
		;
	if (lo == hi) {
		memmove(&dc->r[lo + 1], &dc->r[lo], (dc->n - lo) * sizeof(*dc->r));
		dc->n++;
	} else {
		if (dc->r[lo][0] < a)
			a = dc->r[lo][0];
		if (dc->r[hi - 1][1] > b)
			b = dc->r[hi - 1][1];
		memmove(&dc->r[lo + 1], &dc->r[hi], (dc->n - hi) * sizeof(*dc->r));
		dc->n -= hi - lo - 1;
	}
	dc->r[lo][0] = a;
	dc->r[lo][1] = b;
	return 0;
}

/* --- the .sum files ------------------------------------------------------ */

/* Bytes per chunk in a .sum file. */
static unsigned sum_width(const struct obj *o)
{
	return o->pairs ? 16 : 8;
}

/* Read the checksums of chunks [@first, @first + @n); those past the file
 * read as 0. */
static int sums_read(const struct obj *o, const struct seg *g, uint64_t first,
		     size_t n, struct csum *out, struct mixfs_err *err)
{
	unsigned w = sum_width(o);
	uint64_t *raw = (uint64_t *)out;
	size_t have = 0, i;
	ssize_t got = 0;

	memset(out, 0, n * sizeof(*out));
	if (first < g->nsums)
		have = g->nsums - first < n ? (size_t)(g->nsums - first) : n;
	if (have)
		got = pread_full(g->sfd, out, have * w, first * w);
	if (got < 0 || (size_t)got != have * w)
		return oerr(err, got < 0 ? (int)got : -EUCLEAN, o->id,
			    "reading checksums of segment %" PRIx64 " failed",
			    g->no);
	if (o->pairs) {
		for (i = 0; i < have; i++) {
			out[i].cur = le64toh(out[i].cur);
			out[i].prev = le64toh(out[i].prev);
		}
		return 0;
	}
	/* Spread the single values out, from the top: entry i is read
	 * before anything is written over it. */
	for (i = have; i-- > 0;) {
		uint64_t v = le64toh(raw[i]);

		out[i].cur = out[i].prev = v;
	}
	return 0;
}

/* Write the checksums of chunks [@first, @first + @n) from @in. One pwrite
 * per batch: a pair never straddles a 4 KiB block, so the host writes
 * both of its values back together. */
static int sums_write(const struct obj *o, struct seg *g, uint64_t first,
		      uint64_t n, const struct csum *in, struct mixfs_err *err)
{
	uint64_t le[2 * BATCH_CHUNKS], done = 0;
	unsigned w = sum_width(o);
	int ret;

	while (done < n) {
		size_t k = n - done < BATCH_CHUNKS ? n - done : BATCH_CHUNKS, i;

		for (i = 0; i < k; i++) {
			if (o->pairs) {
				le[2 * i] = htole64(in[done + i].cur);
				le[2 * i + 1] = htole64(in[done + i].prev);
			} else {
				le[i] = htole64(in[done + i].cur);
			}
		}
		ret = pwrite_full(g->sfd, le, k * w, (first + done) * w);
		if (ret)
			return oerr(err, ret, o->id, "writing checksums: %s",
				    strerror(-ret));
		done += k;
	}
	if (first + n > g->nsums)
		g->nsums = first + n;
	return 0;
}

/*
 * Visit the checksums of chunks [@first, @end) of @g, BATCH_CHUNKS at a
 * time, skipping the holes of a sparse .sum file (all zeros: chunks never
 * written). @fn returns 1 when it changed the batch (it is written back
 * then), 0, or a negative errno, which ends the walk.
 */
typedef int (*sums_fn)(struct obj *o, struct seg *g, uint64_t first,
		       size_t k, struct csum *sums, void *arg,
		       struct mixfs_err *err);

static int sums_walk(struct obj *o, struct seg *g, uint64_t first,
		     uint64_t end, sums_fn fn, void *arg,
		     struct mixfs_err *err)
{
	struct csum sums[BATCH_CHUNKS];
	unsigned w = sum_width(o);
	off_t data, hole;
	int ret;

	if (g->sfd < 0 || end > g->nsums)
		end = g->sfd < 0 ? 0 : g->nsums;
	while (first < end) {
		size_t k;

		data = lseek(g->sfd, (off_t)(first * w), SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break;		/* only holes from here on */
		hole = data < 0 ? -1 : lseek(g->sfd, data, SEEK_HOLE);
		if (hole < 0)
			return oerr(err, -errno, o->id, "checksums: %s",
				    strerror(errno));
		if ((uint64_t)data / w > first)
			first = (uint64_t)data / w;
		for (; first < end && first * w < (uint64_t)hole; first += k) {
			k = end - first < BATCH_CHUNKS ? end - first :
			    BATCH_CHUNKS;
			ret = sums_read(o, g, first, k, sums, err);
			if (!ret)
				ret = fn(o, g, first, k, sums, arg, err);
			if (ret > 0)
				ret = sums_write(o, g, first, k, sums, err);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int count_fn(struct obj *o, struct seg *g, uint64_t first, size_t k,
		    struct csum *sums, void *arg, struct mixfs_err *err)
{
	uint64_t *count = arg;
	size_t i;

	(void)o; (void)g; (void)first; (void)err;
	for (i = 0; i < k; i++)
		*count += sums[i].cur != 0;
	return 0;
}

/* Count the chunks holding data in [@first, @first + @n). */
static int sums_count(struct obj *o, struct seg *g, uint64_t first,
		      uint64_t n, uint64_t *count, struct mixfs_err *err)
{
	*count = 0;
	if (n > UINT64_MAX - first)
		n = UINT64_MAX - first;
	return sums_walk(o, g, first, first + n, count_fn, count, err);
}

/* --- chunks -------------------------------------------------------------- */

/* Read @n chunks from chunk @first into @buf, zeros past the data. */
static int chunks_read(const struct obj *o, const struct seg *g,
		       uint64_t first, size_t n, unsigned char *buf,
		       struct mixfs_err *err)
{
	ssize_t got = 0;

	if (g->dfd >= 0 && first * CHUNK < g->dsize)
		got = pread_full(g->dfd, buf, n * CHUNK, first * CHUNK);
	if (got < 0)
		return oerr(err, (int)got, o->id, "reading data: %s",
			    strerror((int)-got));
	memset(buf + got, 0, n * CHUNK - (size_t)got);
	return 0;
}

/* Do the bytes of @chunk match @sum? *@h caches their hash (0: not yet). */
static bool sum_ok(const unsigned char *chunk, uint64_t sum, uint64_t *h)
{
	if (sum == 0)
		return all_zero(chunk, CHUNK);
	if (!*h)
		*h = chunk_sum(chunk);
	return *h == sum;
}

/* Check @chunk, chunk @idx of @g, against its checksums @c; on success
 * *@now is the one it matched. */
static int chunk_verify(const struct obj *o, const struct seg *g,
			uint64_t idx, const unsigned char *chunk,
			const struct csum *c, uint64_t *now,
			struct mixfs_err *err)
{
	uint64_t h = 0;

	if (sum_ok(chunk, c->cur, &h)) {
		*now = c->cur;
		return 0;
	}
	if (c->prev != c->cur && sum_ok(chunk, c->prev, &h)) {
		*now = c->prev;
		return 0;
	}
	return oerr(err, -EBADMSG, o->id,
		    "checksum mismatch in the %u-byte chunk at offset %" PRIu64 "%s",
		    CHUNK, (g->no << SEG_SHIFT) + idx * CHUNK,
		    c->cur || c->prev ? "" : " (a hole holds data)");
}

/*
 * The checksum of chunk @idx at the last sync, to keep as the @prev of
 * its next pair (@c: its pair now). The chunk changed since: the pair's
 * @prev. Otherwise, where the pair's two values are one: that one.
 * Otherwise the pair was left by a change before a power cut or was not
 * settled after a sync, and the disk may hold the bytes of either value:
 * @now, the one the caller found them to match, or else the one they
 * match when read here. Bytes matching neither are corrupt already; then
 * the current value.
 */
static int chunk_synced(const struct obj *o, const struct seg *g,
			uint64_t idx, const struct csum *c,
			const uint64_t *now, uint64_t *out,
			struct mixfs_err *err)
{
	unsigned char chunk[CHUNK];
	uint64_t h = 0;
	int ret;

	if (!o->pairs || c->cur == c->prev) {
		*out = c->cur;
		return 0;
	}
	if (dc_has(o->dc, chunk_no(g, idx))) {
		*out = c->prev;
		return 0;
	}
	if (now) {
		*out = *now;
		return 0;
	}
	ret = chunks_read(o, g, idx, 1, chunk, err);
	if (ret)
		return ret;
	*out = !sum_ok(chunk, c->cur, &h) && sum_ok(chunk, c->prev, &h) ?
	       c->prev : c->cur;
	return 0;
}

/* Build in @chunk the new bytes of chunk @idx: its old bytes, verified
 * against @old, with [@from, @to) replaced by @src (or zeros). *@now is
 * the checksum the old bytes matched. */
static int chunk_merge(const struct obj *o, const struct seg *g, uint64_t idx,
		       const struct csum *old, const unsigned char *src,
		       size_t from, size_t to, unsigned char *chunk,
		       uint64_t *now, struct mixfs_err *err)
{
	int ret = chunks_read(o, g, idx, 1, chunk, err);

	if (!ret)
		ret = chunk_verify(o, g, idx, chunk, old, now, err);
	if (ret)
		return ret;
	if (src)
		memcpy(chunk + from, src, to - from);
	else
		memset(chunk + from, 0, to - from);
	return 0;
}

/* What drop_fn() found: chunks that held data, pairs it changed. */
struct drop {
	uint64_t count;
	bool changed;
};

/*
 * Give the chunks of a batch that go (cut off or punched) the pair
 * (0, synced): until the next sync they may read as zeros or as their
 * synced bytes, whichever the disk holds after a cut.
 */
static int drop_fn(struct obj *o, struct seg *g, uint64_t first, size_t k,
		   struct csum *sums, void *arg, struct mixfs_err *err)
{
	struct drop *d = arg;
	bool changed = false;
	uint64_t synced;
	size_t i;
	int ret;

	for (i = 0; i < k; i++) {
		if (!sums[i].cur && !sums[i].prev)
			continue;
		d->count += sums[i].cur != 0;
		ret = chunk_synced(o, g, first + i, &sums[i], NULL, &synced,
				   err);
		if (ret)
			return ret;
		sums[i].cur = 0;
		sums[i].prev = synced;
		changed = true;
	}
	d->changed |= changed;
	return changed;
}

/*
 * Chunks [@first, @first + @n) of @g go: give them the pair (0, synced)
 * and count in *@count those that held data. In a version 2 store the
 * pairs are made durable (fdatasync) when @data_goes: the caller is about
 * to cut or punch the data file, a change of the host's metadata that
 * its journal may commit at anyone's fsync, long before a plain write of
 * the checksums; with the pairs on disk first, a cut at any point reads
 * each chunk as its synced bytes or as zeros.
 */
static int sums_drop(struct obj *o, struct seg *g, uint64_t first,
		     uint64_t n, bool data_goes, uint64_t *count,
		     struct mixfs_err *err)
{
	struct drop d = { 0, false };
	uint64_t end;
	int ret;

	*count = 0;
	if (first >= g->nsums)
		return 0;
	end = n > g->nsums - first ? g->nsums : first + n;
	ret = dc_add(o, chunk_no(g, first), chunk_no(g, end), err);
	if (!ret)
		ret = sums_walk(o, g, first, end, drop_fn, &d, err);
	if (!ret && o->pairs && data_goes && d.changed && fdatasync(g->sfd))
		ret = oerr(err, -errno, o->id, "syncing checksums: %s",
			   strerror(errno));
	*count = d.count;
	return ret;
}

/*
 * One .sum block at a time (two system calls per block holding changed
 * chunks, however many): a sync after scattered small writes would
 * otherwise pay two per changed range. Only the changed chunks' pairs
 * change: another chunk's pair may still differ after a power cut, and
 * which of its values the disk holds is known only from its bytes.
 */
void objstore_dir_settle(struct obj *o)
{
	const uint64_t per_block = CHUNK / sizeof(struct csum);
	const uint64_t per_seg = SEG_SIZE / CHUNK;
	struct csum pairs[CHUNK / sizeof(struct csum)];
	struct dchunks *dc = o->dc;
	uint64_t pos = 0;
	size_t i = 0, j;

	while (dc && o->pairs && i < dc->n) {
		uint64_t first, end, no, c, lo, hi;
		struct seg tmp, *g;
		bool changed = false;

		if (pos < dc->r[i][0])
			pos = dc->r[i][0];
		first = pos / per_block * per_block;
		end = first + per_block;	/* never past its segment */
		no = first / per_seg;
		if (!seg_get(o, no, false, &tmp, &g, NULL) && g->sfd >= 0 &&
		    first - no * per_seg < g->nsums) {
			uint64_t base = no * per_seg, n = end - first;

			if (n > g->nsums - (first - base))
				n = g->nsums - (first - base);
			if (!sums_read(o, g, first - base, (size_t)n, pairs,
				       NULL)) {
				for (j = i; j < dc->n && dc->r[j][0] < end; j++) {
					lo = dc->r[j][0] > first ? dc->r[j][0] :
					     first;
					hi = dc->r[j][1] < first + n ?
					     dc->r[j][1] : first + n;
					for (c = lo; c < hi; c++)
						if (pairs[c - first].prev !=
						    pairs[c - first].cur) {
							pairs[c - first].prev =
								pairs[c - first].cur;
							changed = true;
						}
				}
				if (changed)
					sums_write(o, g, first - base, n, pairs,
						   NULL);
			}
		}
		seg_put(g, &tmp);
		pos = end;
		while (i < dc->n && dc->r[i][1] <= pos)
			i++;
	}
}

/* --- data ---------------------------------------------------------------- */

/* Read [@off, @off + @len) of segment @g (segment offsets) into @out,
 * @nb chunks at a time through @bounce. */
static int seg_read(const struct obj *o, const struct seg *g, uint64_t off,
		    unsigned char *out, uint64_t len, unsigned char *bounce,
		    size_t nb, struct mixfs_err *err)
{
	uint64_t end = off + len, pos = off, covered, now;
	struct csum sums[BATCH_CHUNKS];
	int ret;

	/* Chunks past the checksums hold no data: they read as zeros. */
	covered = g->nsums * CHUNK < end ? g->nsums * CHUNK : end;
	while (pos < covered) {
		uint64_t first = pos / CHUNK, last = (covered - 1) / CHUNK;
		size_t n = last - first + 1 < nb ? (size_t)(last - first + 1) :
			   nb, i;
		uint64_t stop = (first + n) * CHUNK;

		ret = sums_read(o, g, first, n, sums, err);
		if (!ret)
			ret = chunks_read(o, g, first, n, bounce, err);
		for (i = 0; !ret && i < n; i++)
			ret = chunk_verify(o, g, first + i, bounce + i * CHUNK,
					   &sums[i], &now, err);
		if (ret)
			return ret;
		if (stop > covered)
			stop = covered;
		memcpy(out + (pos - off), bounce + (pos - first * CHUNK),
		       stop - pos);
		pos = stop;
	}
	if (pos < end)
		memset(out + (pos - off), 0, end - pos);
	return 0;
}

ssize_t objstore_dir_read(struct objstore *s, uint64_t id, uint64_t off,
			void *buf, size_t len, struct mixfs_err *err)
{
	struct dir_store *ds = to_dir(s);
	size_t nb = len / CHUNK + 2 < BATCH_CHUNKS ? len / CHUNK + 2 :
		    BATCH_CHUNKS;
	uint64_t pos, end, no, soff, slen;
	unsigned char *bounce;
	struct seg tmp, *g;
	struct obj *o;
	int ret;

	bounce = malloc(nb * CHUNK);
	if (!bounce)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	pthread_rwlock_rdlock(&ds->lock);
	ret = objstore_dir_get(ds, id, false, &o, err);
	if (ret)
		goto out_unlock;
	if (off >= o->size)
		len = 0;
	else if (len > o->size - off)
		len = (size_t)(o->size - off);
	end = off + len;
	for (pos = off; pos < end && !ret; pos += slen) {
		slen = seg_piece(pos, end, &no, &soff);
		ret = seg_get(o, no, false, &tmp, &g, err);
		if (!ret)
			ret = seg_read(o, g, soff, (unsigned char *)buf +
				       (pos - off), slen, bounce, nb, err);
		seg_put(g, &tmp);
	}
	objstore_dir_put(ds, o, false);
out_unlock:
	pthread_rwlock_unlock(&ds->lock);
	free(bounce);
	return ret ? ret : (ssize_t)len;
}

/* Write @len bytes at segment offset @off: new checksums for the whole
 * chunks straight from @src, for the partial ones at either end from
 * their verified old bytes merged with @src; each chunk keeps its synced
 * checksum beside the new one. @old, if not NULL, holds the chunks'
 * current checksums, read by the caller already. */
static int seg_write(struct obj *o, struct seg *g, uint64_t off,
		     const unsigned char *src, uint64_t len,
		     const struct csum *old, struct mixfs_err *err)
{
	uint64_t end = off + len, first = off / CHUNK, n, i;
	unsigned char chunk[CHUNK];
	struct csum *sums;
	int ret = 0;

	n = (end - 1) / CHUNK - first + 1;
	sums = malloc(n * sizeof(*sums));
	if (!sums)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	if (old)
		memcpy(sums, old, n * sizeof(*sums));
	else
		ret = sums_read(o, g, first, n, sums, err);
	for (i = 0; i < n && !ret; i++) {
		uint64_t cstart = (first + i) * CHUNK;
		uint64_t from = off > cstart ? off - cstart : 0;
		uint64_t to = end < cstart + CHUNK ? end - cstart : CHUNK;
		uint64_t now, synced = 0, sum;

		if (from == 0 && to == CHUNK) {
			sum = chunk_sum(src + (cstart - off));
			ret = chunk_synced(o, g, first + i, &sums[i], NULL,
					   &synced, err);
		} else {
			ret = chunk_merge(o, g, first + i, &sums[i],
					  src + (cstart + from - off), from, to,
					  chunk, &now, err);
			sum = chunk_sum(chunk);
			if (!ret)
				ret = chunk_synced(o, g, first + i, &sums[i],
						   &now, &synced, err);
		}
		sums[i].cur = sum;
		sums[i].prev = synced;
	}
	if (!ret)
		ret = dc_add(o, chunk_no(g, first), chunk_no(g, first + n), err);
	if (!ret) {
		ret = pwrite_full(g->dfd, src, len, off);
		if (ret)
			oerr(err, ret, o->id, "writing %" PRIu64 " bytes at %"
			     PRIu64 ": %s", len, (g->no << SEG_SHIFT) + off,
			     strerror(-ret));
		else
			seg_grew(g, end);
	}
	if (!ret)
		ret = sums_write(o, g, first, n, sums, err);
	free(sums);
	return ret;
}

/* Count in *@have the chunks of [@first, @first + @n) of @g holding data.
 * For a range of at most BATCH_CHUNKS, their checksums are left in @sums
 * and true is returned in *@kept. */
static int seg_count(struct obj *o, struct seg *g, uint64_t first,
		     uint64_t n, uint64_t *have, struct csum *sums, bool *kept,
		     struct mixfs_err *err)
{
	uint64_t i;
	int ret;

	/* A small range costs one pread; sums_count's two lseeks to skip
	 * holes pay off only over long ranges. */
	*kept = false;
	if (n > BATCH_CHUNKS)
		return sums_count(o, g, first, n, have, err);
	*have = 0;
	ret = sums_read(o, g, first, (size_t)n, sums, err);
	*kept = !ret;
	for (i = 0; !ret && i < n; i++)
		*have += sums[i].cur != 0;
	return ret;
}

int objstore_dir_write(struct objstore *s, uint64_t id, uint64_t off,
		       const void *buf, size_t len, struct mixfs_err *err)
{
	struct dir_store *ds = to_dir(s);
	uint64_t grow = 0, end = off + len, pos, no, soff, slen;
	struct csum sums[BATCH_CHUNKS];
	bool reserved = false, kept = false, one_piece;
	struct seg tmp, *g;
	struct obj *o;
	int ret;

	pthread_rwlock_rdlock(&ds->lock);
	ret = objstore_dir_dirty_mark(ds, id, err);
	if (!ret)
		ret = objstore_dir_get(ds, id, true, &o, err);
	if (ret)
		goto out_unlock;
	/* First count the chunks the write newly fills, to refuse it whole
	 * if the store is full. */
	for (pos = off; pos < end; pos += slen) {
		uint64_t first, n, have = 0;

		slen = seg_piece(pos, end, &no, &soff);
		first = soff / CHUNK;
		n = (soff + slen - 1) / CHUNK - first + 1;

		ret = seg_get(o, no, false, &tmp, &g, err);
		if (!ret)
			ret = seg_count(o, g, first, n, &have, sums, &kept,
					err);
		seg_put(g, &tmp);
		if (ret)
			goto out_put;
		grow += n - have;
	}
	/* Other objects are written meanwhile: claim the space now. */
	pthread_mutex_lock(&ds->mu);
	if (ds->capacity && (ds->used_chunks + grow) * CHUNK > ds->capacity)
		ret = mixfs_err_set(err, -ENOSPC, "store %s full: %" PRIu64
			" of %" PRIu64 " bytes used, %" PRIu64 " more needed",
			ds->path, ds->used_chunks * CHUNK, ds->capacity,
			grow * CHUNK);
	else
		ds->used_chunks += grow;
	pthread_mutex_unlock(&ds->mu);
	if (ret)
		goto out_put;
	reserved = true;
	/* The usual write, small and in one segment, reuses the checksums
	 * just counted: nothing changed them, the object is ours alone. */
	one_piece = kept && len && seg_piece(off, end, &no, &soff) == len;
	for (pos = off; pos < end; pos += slen) {
		slen = seg_piece(pos, end, &no, &soff);
		ret = seg_get(o, no, true, &tmp, &g, err);
		if (!ret)
			ret = seg_write(o, g, soff, (const unsigned char *)buf +
					(pos - off), slen,
					one_piece ? sums : NULL, err);
		seg_put(g, &tmp);
		if (ret)
			goto out_put;
	}
	if (len && off + len > o->size)
		o->size = off + len;
	o->chunks += grow;
	/* Even for len 0: the meta file's mtime is the object's. */
	ret = objstore_dir_meta_save(o, err);
out_put:
	if (ret && reserved) {
		pthread_mutex_lock(&ds->mu);
		ds->used_chunks -= grow;
		pthread_mutex_unlock(&ds->mu);
	}
	objstore_dir_put(ds, o, ret && reserved);
out_unlock:
	pthread_rwlock_unlock(&ds->lock);
	return ret;
}

/*
 * Cut segment @g to @size bytes (segment offsets, @size > 0); the chunks
 * whose checksums go are counted in *@dropped.
 *
 * The data file is cut at the end of the chunk holding @size, never inside
 * it: the tail of that chunk is zeroed by a write, like its new checksum.
 * An ftruncate() inside a chunk would zero the tail as a change of the
 * host's metadata, which its journal may commit at any time (at anyone's
 * fsync) while the checksum, a plain write, is still in memory: after a
 * power cut the chunk would fail its check, losing the bytes before @size
 * that the last sync made durable. Cut at a chunk boundary, what reaches
 * the disk first is whole chunks gone, and the chunk holding @size keeps
 * its old bytes and checksum until both are written back.
 *
 * The checksum file is cut first, at the end of the 4 KiB block holding
 * the last pair kept: the journal then never holds the data file's cut
 * without it, and data past the checksums is left out of reads
 * (seg_leftover()). The chunks cut off whose pairs share that block get
 * the pair (0, synced), on disk before the data file is cut
 * (sums_drop()).
 */
static int seg_truncate(struct obj *o, struct seg *g, uint64_t size,
			uint64_t *dropped, struct mixfs_err *err)
{
	static const unsigned char zeros[CHUNK];
	uint64_t keep = (size + CHUNK - 1) / CHUNK, idx = size / CHUNK, now;
	uint64_t cut = keep * CHUNK, w = sum_width(o), scut, past = 0;
	unsigned char chunk[CHUNK];
	struct csum tail = { 0, 0 };
	int ret = 0;

	scut = (keep * w + CHUNK - 1) / CHUNK * CHUNK / w;
	/* The chunk cut in two keeps its head; its tail becomes zeros. */
	if (size % CHUNK)
		ret = sums_read(o, g, idx, 1, &tail, err);
	if (!ret && tail.cur)
		ret = chunk_merge(o, g, idx, &tail, NULL, size % CHUNK, CHUNK,
				  chunk, &now, err);
	if (!ret && tail.cur)
		ret = chunk_synced(o, g, idx, &tail, &now, &tail.prev, err);
	if (!ret && tail.cur)
		ret = dc_add(o, chunk_no(g, idx), chunk_no(g, idx + 1), err);
	if (!ret)
		ret = sums_count(o, g, scut, UINT64_MAX, &past, err);
	if (!ret)
		ret = sums_drop(o, g, keep, scut - keep, g->dsize > cut,
				dropped, err);
	if (ret)
		return ret;
	*dropped += past;
	if (g->nsums > scut && ftruncate(g->sfd, (off_t)(scut * w)))
		return oerr(err, -errno, o->id, "truncating checksums: %s",
			    strerror(errno));
	if (g->nsums > scut)
		g->nsums = scut;
	if (tail.cur && g->dsize > size) {
		uint64_t stop = g->dsize < cut ? g->dsize : cut;

		ret = pwrite_full(g->dfd, zeros, stop - size, size);
		if (ret)
			return oerr(err, ret, o->id, "zeroing past %" PRIu64
				    ": %s", size, strerror(-ret));
	}
	if (g->dsize > cut && ftruncate(g->dfd, (off_t)cut))
		return oerr(err, -errno, o->id, "truncating data: %s",
			    strerror(errno));
	if (g->dsize > cut)
		g->dsize = cut;
	if (tail.cur) {
		tail.cur = chunk_sum(chunk);
		ret = sums_write(o, g, idx, 1, &tail, err);
	}
	return ret;
}

static int truncate_locked(struct dir_store *ds, struct obj *o, uint64_t size,
			   struct mixfs_err *err)
{
	uint64_t *segs, dropped = 0, d;
	struct seg tmp, *g;
	size_t n, i;
	int ret;

	if (size < o->size) {
		ret = seg_list(o, &segs, &n, err);
		if (ret)
			return ret;
		/* The segment cut in two first: it may refuse (-EBADMSG). */
		for (i = 0; i < n && !ret; i++) {
			uint64_t base = segs[i] << SEG_SHIFT;

			if (base >= size || size - base >= SEG_SIZE)
				continue;
			ret = seg_get(o, segs[i], true, &tmp, &g, err);
			if (!ret)
				ret = seg_truncate(o, g, size - base, &dropped,
						   err);
			seg_put(g, &tmp);
		}
		for (i = 0; i < n && !ret; i++) {
			char name[24];

			if (segs[i] << SEG_SHIFT < size)
				continue;
			ret = seg_get(o, segs[i], false, &tmp, &g, err);
			if (!ret)
				ret = sums_count(o, g, 0, UINT64_MAX, &d, err);
			seg_put(g, &tmp);
			if (ret)
				break;
			dropped += d;
			/* Never again through files that are gone. The
			 * checksums first, as in seg_truncate(). */
			seg_forget(o, segs[i]);
			snprintf(name, sizeof(name), "%" PRIx64 ".sum", segs[i]);
			unlinkat(o->odfd, name, 0);
			name[strlen(name) - 4] = '\0';
			unlinkat(o->odfd, name, 0);
		}
		free(segs);
		if (ret)
			return ret;
	}
	o->size = size;
	o->chunks -= dropped < o->chunks ? dropped : o->chunks;
	ret = objstore_dir_meta_save(o, err);
	if (ret)
		return ret;
	pthread_mutex_lock(&ds->mu);
	ds->used_chunks -= dropped < ds->used_chunks ? dropped :
			   ds->used_chunks;
	pthread_mutex_unlock(&ds->mu);
	return 0;
}

int objstore_dir_truncate(struct objstore *s, uint64_t id, uint64_t size,
			struct mixfs_err *err)
{
	struct dir_store *ds = to_dir(s);
	struct obj *o;
	int ret;

	pthread_rwlock_rdlock(&ds->lock);
	ret = objstore_dir_dirty_mark(ds, id, err);
	if (!ret)
		ret = objstore_dir_get(ds, id, true, &o, err);
	if (!ret) {
		ret = truncate_locked(ds, o, size, err);
		objstore_dir_put(ds, o, ret != 0);
	}
	pthread_rwlock_unlock(&ds->lock);
	return ret;
}

/* Zero [@from, @to) inside chunk @idx of @g. */
static int punch_partial(struct obj *o, struct seg *g, uint64_t idx,
			 size_t from, size_t to, struct mixfs_err *err)
{
	static const unsigned char zeros[CHUNK];
	unsigned char chunk[CHUNK];
	struct csum c;
	uint64_t now;
	int ret = sums_read(o, g, idx, 1, &c, err);

	if (ret || c.cur == 0)	/* zeros already */
		return ret;
	ret = chunk_merge(o, g, idx, &c, NULL, from, to, chunk, &now, err);
	if (!ret)
		ret = chunk_synced(o, g, idx, &c, &now, &c.prev, err);
	if (!ret)
		ret = dc_add(o, chunk_no(g, idx), chunk_no(g, idx + 1), err);
	if (ret)
		return ret;
	if (idx * CHUNK + from < g->dsize) {
		ret = pwrite_full(g->dfd, zeros, to - from, idx * CHUNK + from);
		if (ret)
			return oerr(err, ret, o->id, "zeroing: %s",
				    strerror(-ret));
		seg_grew(g, idx * CHUNK + to);
	}
	c.cur = chunk_sum(chunk);
	return sums_write(o, g, idx, 1, &c, err);
}

/* Deallocate whole chunks [@first, @stop) of the data file, or write
 * zeros on a host file system that cannot punch holes. */
static int punch_data(struct seg *g, uint64_t first, uint64_t stop)
{
	static const unsigned char zeros[CHUNK];
	uint64_t off = first * CHUNK, end = stop * CHUNK;
	int ret = 0;

	if (end > g->dsize)
		end = g->dsize;
	if (off >= end || fallocate(g->dfd, FALLOC_FL_PUNCH_HOLE |
				    FALLOC_FL_KEEP_SIZE, (off_t)off,
				    (off_t)(end - off)) == 0)
		return 0;
	if (errno != EOPNOTSUPP)
		return -errno;
	for (; off < end && !ret; off += CHUNK)
		ret = pwrite_full(g->dfd, zeros, CHUNK, off);
	return ret;
}

/*
 * Punch [@off, @end) of segment @g (segment offsets); chunks that become
 * holes are counted in *@freed. Their pairs become (0, synced), on disk
 * before the data file's hole (sums_drop() says why). The .sum file keeps
 * its blocks: punching them too would be one more change of the host's
 * metadata to order against the rest, for 16 bytes per 4 KiB chunk.
 */
static int seg_punch(struct obj *o, struct seg *g, uint64_t off,
		     uint64_t end, uint64_t *freed, struct mixfs_err *err)
{
	uint64_t first, stop;
	int ret = 0;

	*freed = 0;
	if (end > g->nsums * CHUNK)	/* past the checksums: all holes */
		end = g->nsums * CHUNK;
	if (off >= end)
		return 0;
	first = (off + CHUNK - 1) / CHUNK;	/* first whole chunk */
	stop = end / CHUNK;			/* past the last whole one */
	if (first > stop)			/* inside a single chunk */
		return punch_partial(o, g, off / CHUNK, off % CHUNK,
				     end - off / CHUNK * CHUNK, err);
	if (off % CHUNK)
		ret = punch_partial(o, g, off / CHUNK, off % CHUNK, CHUNK, err);
	if (!ret && end % CHUNK)
		ret = punch_partial(o, g, stop, 0, end % CHUNK, err);
	if (!ret && first < stop)
		ret = sums_drop(o, g, first, stop - first,
				first * CHUNK < g->dsize, freed, err);
	if (ret || first == stop)
		return ret;
	ret = punch_data(g, first, stop);
	if (ret)
		return oerr(err, ret, o->id, "punching a hole: %s",
			    strerror(-ret));
	return 0;
}

int objstore_dir_punch(struct objstore *s, uint64_t id, uint64_t off,
		     uint64_t len, struct mixfs_err *err)
{
	struct dir_store *ds = to_dir(s);
	uint64_t *segs = NULL, end = off + len, freed = 0, f;
	struct seg tmp, *g;
	struct obj *o;
	size_t n = 0, i;
	int ret;

	pthread_rwlock_rdlock(&ds->lock);
	ret = objstore_dir_dirty_mark(ds, id, err);
	if (!ret)
		ret = objstore_dir_get(ds, id, true, &o, err);
	if (ret)
		goto out_unlock;
	if (end > o->size)
		end = o->size;
	ret = seg_list(o, &segs, &n, err);
	for (i = 0; i < n && !ret; i++) {
		uint64_t base = segs[i] << SEG_SHIFT;

		if (base >= end || base + SEG_SIZE <= off)
			continue;
		ret = seg_get(o, segs[i], true, &tmp, &g, err);
		if (!ret)
			ret = seg_punch(o, g, off > base ? off - base : 0,
					end - base < SEG_SIZE ? end - base :
					SEG_SIZE, &f, err);
		seg_put(g, &tmp);
		freed += ret ? 0 : f;
	}
	/* Segments punched before a failure stay punched: count them. */
	o->chunks -= freed < o->chunks ? freed : o->chunks;
	pthread_mutex_lock(&ds->mu);
	ds->used_chunks -= freed < ds->used_chunks ? freed : ds->used_chunks;
	pthread_mutex_unlock(&ds->mu);
	if (!ret)
		ret = objstore_dir_meta_save(o, err);
	else if (freed)
		objstore_dir_meta_save(o, NULL);
	free(segs);
	objstore_dir_put(ds, o, ret != 0);
out_unlock:
	pthread_rwlock_unlock(&ds->lock);
	return ret;
}

/* --- holes --------------------------------------------------------------- */

struct seek_arg {
	int whence;
	uint64_t next;		/* SEEK_HOLE: the chunk expected next */
	uint64_t found;		/* the chunk found */
};

#define SEEK_FOUND	(-EALREADY)	/* ends sums_walk(): found */

/*
 * A chunk is data if either of its checksums is: one whose current value
 * is 0 (zeros) may still read as its synced bytes after a power cut. The
 * sparse parts of the .sum file, which sums_walk() skips, are holes.
 */
static int seek_fn(struct obj *o, struct seg *g, uint64_t first, size_t k,
		   struct csum *sums, void *arg, struct mixfs_err *err)
{
	struct seek_arg *a = arg;
	size_t i;

	(void)o; (void)g; (void)err;
	if (a->whence == SEEK_HOLE && first > a->next) {
		a->found = a->next;
		return SEEK_FOUND;
	}
	for (i = 0; i < k; i++) {
		bool data = sums[i].cur || sums[i].prev;

		if (data == (a->whence == SEEK_DATA)) {
			a->found = first + i;
			return SEEK_FOUND;
		}
	}
	a->next = first + k;
	return 0;
}

/* Seek in [@pos, @end), which lies in segment @no: 1 with *@out set when
 * found, 0 when not. */
static int seg_seek(struct obj *o, uint64_t no, uint64_t pos, uint64_t end,
		    int whence, uint64_t *out, struct mixfs_err *err)
{
	uint64_t base = no << SEG_SHIFT, first = (pos - base) / CHUNK;
	uint64_t stop = (end - base + CHUNK - 1) / CHUNK;
	struct seek_arg a = { whence, first, 0 };
	struct seg tmp, *g;
	int ret = seg_get(o, no, false, &tmp, &g, err);

	if (!ret && g->sfd < 0) {	/* no checksums: all of it a hole */
		a.found = first;
		ret = whence == SEEK_HOLE ? SEEK_FOUND : 0;
	} else if (!ret) {
		ret = sums_walk(o, g, first, stop, seek_fn, &a, err);
		if (!ret && whence == SEEK_HOLE && a.next < stop) {
			a.found = a.next;	/* holes past the .sum file */
			ret = SEEK_FOUND;
		}
	}
	seg_put(g, &tmp);
	if (ret != SEEK_FOUND)
		return ret;
	*out = base + a.found * CHUNK;
	if (*out < pos)
		*out = pos;
	return 1;
}

int objstore_dir_seek(struct objstore *s, uint64_t id, uint64_t off,
		      int whence, uint64_t *out, struct mixfs_err *err)
{
	struct dir_store *ds = to_dir(s);
	uint64_t pos, end, no, soff, slen;
	struct obj *o;
	int ret;

	pthread_rwlock_rdlock(&ds->lock);
	ret = objstore_dir_get(ds, id, false, &o, err);
	if (ret)
		goto out_unlock;
	if (off >= o->size) {
		ret = -ENXIO;
		goto out_put;
	}
	/* Every chunk under the size holds data: no hole but the end. */
	if (o->chunks >= (o->size + CHUNK - 1) / CHUNK) {
		*out = whence == SEEK_DATA ? off : o->size;
		goto out_put;
	}
	end = o->size;
	for (pos = off; pos < end; pos += slen) {
		slen = seg_piece(pos, end, &no, &soff);
		ret = seg_seek(o, no, pos, pos + slen, whence, out, err);
		if (ret)
			break;
	}
	if (ret == 0 && whence == SEEK_DATA)	/* only holes to the end */
		ret = -ENXIO;
	else if (ret == 0)			/* the end is the hole */
		*out = end;
	else if (ret == 1)
		ret = 0;
out_put:
	objstore_dir_put(ds, o, false);
out_unlock:
	pthread_rwlock_unlock(&ds->lock);
	return ret;
}

int objstore_dir_stat(struct objstore *s, uint64_t id,
		      struct objstore_stat *st, struct mixfs_err *err)
{
	struct dir_store *ds = to_dir(s);
	struct stat hst;
	struct obj *o;
	int ret;

	pthread_rwlock_rdlock(&ds->lock);
	ret = objstore_dir_get(ds, id, false, &o, err);
	if (ret)
		goto out_unlock;
	/* The mtime is the meta file's, which every change rewrites. Its
	 * length comes with it: a meta file cut short behind our back is
	 * reported as the open would report it. */
	if (fstat(o->mfd, &hst))
		ret = oerr(err, -errno, id, "%s", strerror(errno));
	else if (hst.st_size && (size_t)hst.st_size < sizeof(struct meta_head))
		ret = oerr(err, -EUCLEAN, id, "meta file is %jd bytes, shorter "
			   "than its %zu-byte header", (intmax_t)hst.st_size,
			   sizeof(struct meta_head));
	if (!ret) {
		st->size = o->size;
		st->allocated = o->chunks * CHUNK;
		st->mtime = hst.st_mtim;
	}
	objstore_dir_put(ds, o, false);
out_unlock:
	pthread_rwlock_unlock(&ds->lock);
	return ret;
}
