/*
 * scrub.c - the online scrub of a mounted tablefs: one background thread
 * that reads every record of the database and all file data, so that the
 * stores verify their checksums, and reports what fails as events.
 *
 * The walk, in three steps:
 *  - count: the inode records ('i' keys) give the bytes and regular files
 *    to read, so progress has a total from the start;
 *  - every key of the database, in order, through an iterator whose read
 *    options verify RocksDB's block checksums (metadata, directories,
 *    extended attributes, inline file data and the rocksdb: store's own
 *    records); the rocksdb: store's data chunks ("oD") are passed over
 *    here, as reading the files reads them;
 *  - each inode record of a file kept in an object sends the walk to that
 *    object: read whole in large pieces through objstore_read(), the
 *    store verifying each chunk. A piece that fails is read again chunk by
 *    chunk to find the damaged ranges (tfs_obj_verify(), which is written
 *    so that fsck can use it as well).
 * With a cache: data store, the remote (the durable copy) is read
 * directly, so the scrub neither fills nor flushes the cache, and then the
 * pieces the local store holds; a local piece that fails is read once
 * through the cache, which fetches it again from the remote and rewrites
 * it: checksum_corrected.
 *
 * Not starving the mount: the thread holds no lock of the filesystem
 * (reads of RocksDB and the stores need none, see tablefs.h); an iterator
 * lives for at most SCRUB_BATCH keys and never across a data read, so it
 * pins neither memtables nor old table files for long; the thread runs at
 * the lowest CPU and I/O priority of its class; rate= bounds the bytes
 * read per second. Files that change under the scrub are not errors: an
 * object gone (the file removed) is passed over, one cut short ends its
 * read, and a range whose first read failed is only reported when a
 * second read of it fails too.
 *
 * What it deliberately does not do: check the structure (link counts,
 * sizes against objects, directory records: that is fsck, offline), repair
 * anything itself, or act on I/O errors with the errors= policy (it only
 * reads; the request that next meets the error does).
 */
/* fsck.h mirrors the rocksdb: store's key layout: the data chunks' key
 * kind is passed over by the key walk. */
#include "fs/tablefs/fsck.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "objstore/objstore_cache.h"

#define SCRUB_BATCH	1024	/* keys per iterator */
#define SCRUB_PATHS	16	/* damaged files whose path is looked up */
#define SCRUB_KEEP	32	/* damaged ranges listed by "scrub status" */
#define SCRUB_PATH_MAX	1024

enum scrub_state {
	SCRUB_IDLE,
	SCRUB_RUNNING,
	SCRUB_DONE,
	SCRUB_CANCELLED,
	SCRUB_FAILED,
};

static const char *const state_names[] = {
	"idle", "running", "done", "cancelled", "failed",
};

struct scrub_damage {
	uint64_t ino, off, len;	/* ino 0: a database record */
	bool corrected;
	char path[256];		/* "" when not looked up or not found; a
				 * record: the last good key before it, hex */
};

struct tfs_scrub {
	struct tfs *fs;
	pthread_mutex_t lock;		/* every field below */
	pthread_cond_t cond;		/* CLOCK_MONOTONIC; stop, state */
	pthread_t thread;
	bool joinable;			/* started and not yet joined */
	bool stop;			/* cancel or unmount asked */
	enum scrub_state state;
	uint64_t rate;			/* bytes per second, 0: no limit */
	struct timespec started, finished;	/* CLOCK_REALTIME */
	struct timespec t0;		/* CLOCK_MONOTONIC, for the rate */
	uint64_t read;			/* bytes read (the rate's) */
	uint64_t total_bytes, total_files;
	bool counted;			/* the totals are known */
	uint64_t bytes, files;		/* scanned so far */
	uint64_t keys;			/* database records verified */
	uint64_t errors;		/* damaged ranges and records */
	uint64_t corrected;		/* damaged ranges repaired */
	uint64_t io_errors;
	uint64_t paths;			/* path lookups made */
	char why[256];			/* SCRUB_FAILED: the reason */
	struct scrub_damage damage[SCRUB_KEEP];
	size_t ndamage;
};

/* --- verifying one object ---------------------------------------------- */

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void tally(struct tfs_verify *v, const unsigned char *p,
		  uint64_t off, size_t n)
{
	for (size_t at = 0; at < n; at += TFS_VERIFY_CHUNK) {
		size_t len = n - at < TFS_VERIFY_CHUNK ? n - at :
			     TFS_VERIFY_CHUNK;

		if (all_zero(p + at, len))
			continue;
		v->chunks++;
		v->chunk_end = off + at + len;
	}
}

/* Hand the damaged range gathered so far to the caller. */
static int flush_bad(struct tfs_verify *v)
{
	int ret = 0;

	if (v->bad_len) {
		v->nbad++;
		ret = v->bad(v, v->bad_off, v->bad_len);
	}
	v->bad_len = 0;
	return ret;
}

static int add_bad(struct tfs_verify *v, uint64_t off, uint64_t len)
{
	int ret = 0;

	if (v->bad_len && v->bad_off + v->bad_len == off) {
		v->bad_len += len;
		return 0;
	}
	ret = flush_bad(v);
	v->bad_off = off;
	v->bad_len = len;
	return ret;
}

/*
 * Piece [@off, @off + @n) failed: read it again a chunk at a time into
 * the same place of the buffer. Returns 1 when the object turned out
 * shorter (cut meanwhile).
 */
static int narrow(struct tfs_verify *v, uint64_t off, size_t n)
{
	for (size_t at = 0; at < n; at += TFS_VERIFY_CHUNK) {
		size_t len = n - at < TFS_VERIFY_CHUNK ? n - at :
			     TFS_VERIFY_CHUNK;
		ssize_t got = objstore_read(v->s, v->id, off + at,
					    v->buf + at, len, &v->err);
		int ret;

		if (got == -EBADMSG || got == -EUCLEAN) {
			mixfs_err_clear(&v->err);
			ret = add_bad(v, off + at, len);
		} else if (got < 0) {
			v->err_off = off + at;
			return (int)got;
		} else {
			ret = flush_bad(v);
			tally(v, v->buf + at, off + at, (size_t)got);
			if (!ret && v->good)
				ret = v->good(v, v->buf + at, off + at,
					      (size_t)got);
			if (!ret && (size_t)got < len)
				return 1;
		}
		if (ret)
			return ret;
	}
	return 0;
}

int tfs_obj_verify(struct tfs_verify *v)
{
	uint64_t off = 0;
	int ret = 0;

	v->chunks = v->chunk_end = v->nbad = v->bad_len = 0;
	v->err_off = 0;
	mixfs_err_clear(&v->err);
	/* Holes past the last chunk holding data are not read: a sparse
	 * object may be far larger than what it holds. */
	while (!ret && off < v->size &&
	       (v->chunks * TFS_VERIFY_CHUNK < v->allocated || v->nbad ||
		v->bad_len)) {
		size_t n = v->size - off < TFS_VERIFY_PIECE ?
			   (size_t)(v->size - off) : TFS_VERIFY_PIECE;
		ssize_t got = objstore_read(v->s, v->id, off, v->buf, n,
					    &v->err);

		if (got == -EBADMSG || got == -EUCLEAN) {
			mixfs_err_clear(&v->err);
			ret = narrow(v, off, n);
		} else if (got < 0) {
			v->err_off = off;
			ret = (int)got;
		} else {
			ret = flush_bad(v);
			tally(v, v->buf, off, (size_t)got);
			if (!ret && v->good)
				ret = v->good(v, v->buf, off, (size_t)got);
			if (!ret && (size_t)got < n)
				ret = 1;	/* shorter than its size said */
		}
		off += n;
	}
	v->end = off < v->size ? off : v->size;
	if (ret >= 0) {
		int f = flush_bad(v);

		ret = ret == 1 ? 0 : ret;
		if (!ret)
			ret = f;
	}
	return ret;
}

/* --- state shared with the control commands ----------------------------- */

static void mono_now(struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC, t);
}

static struct tfs_scrub *scrub_get(struct tfs *fs)
{
	return __atomic_load_n(&fs->scrub, __ATOMIC_ACQUIRE);
}

/* The scrub state of @fs, made at the first start. */
static int scrub_make(struct tfs *fs, struct tfs_scrub **out)
{
	struct tfs_scrub *sc = scrub_get(fs);
	pthread_condattr_t ca;

	if (sc) {
		*out = sc;
		return 0;
	}
	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	sc->fs = fs;
	pthread_mutex_init(&sc->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sc->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* Two control requests may race to make it: fs->lock decides. */
	pthread_mutex_lock(&fs->lock);
	if (fs->scrub) {
		pthread_mutex_unlock(&fs->lock);
		pthread_cond_destroy(&sc->cond);
		pthread_mutex_destroy(&sc->lock);
		free(sc);
		*out = fs->scrub;
		return 0;
	}
	__atomic_store_n(&fs->scrub, sc, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&fs->lock);
	*out = sc;
	return 0;
}

static bool stopped(struct tfs_scrub *sc)
{
	bool s;

	pthread_mutex_lock(&sc->lock);
	s = sc->stop;
	pthread_mutex_unlock(&sc->lock);
	return s;
}

/*
 * Count @n bytes read and, with a rate, wait until the time they are due
 * (woken at once by a cancel). -ECANCELED once a stop is asked.
 */
static int pace(struct tfs_scrub *sc, uint64_t n)
{
	int ret = 0;

	pthread_mutex_lock(&sc->lock);
	sc->read += n;
	if (sc->rate && !sc->stop) {
		uint64_t ns = (uint64_t)((long double)sc->read * 1e9L /
					 (long double)sc->rate);
		struct timespec due = sc->t0;

		due.tv_sec += (time_t)(ns / 1000000000u);
		due.tv_nsec += (long)(ns % 1000000000u);
		if (due.tv_nsec >= 1000000000L) {
			due.tv_sec++;
			due.tv_nsec -= 1000000000L;
		}
		while (!sc->stop &&
		       pthread_cond_timedwait(&sc->cond, &sc->lock, &due) !=
		       ETIMEDOUT)
			;
	}
	if (sc->stop)
		ret = -ECANCELED;
	pthread_mutex_unlock(&sc->lock);
	return ret;
}

/* --- the thread's own state --------------------------------------------- */

struct scrub_run {
	struct tfs_scrub *sc;
	struct tfs *fs;
	struct evt *ev;			/* may be NULL (read-only mount) */
	rocksdb_readoptions_t *ro;	/* checksums verified, cache kept */
	unsigned char *buf;		/* TFS_VERIFY_PIECE bytes */
	unsigned char *buf2;		/* the same, for the cache's repair */
	struct objstore *remote;	/* data store, or a cache's remote */
	struct objstore *local;		/* a cache's local store, or NULL */
	uint64_t ino;			/* file being read */
	uint64_t path_ino;		/* whose path is in path (0: none) */
	char *path;			/* SCRUB_PATH_MAX bytes */
	uint64_t counted;		/* bytes of it counted as scanned */
	uint64_t want;			/* bytes of it the total counted */
};

/* --- walking the database a batch at a time ----------------------------- */

/*
 * A walk over keys from a start key, one short-lived iterator per batch,
 * resuming after the last key handed out.
 */
struct kwalk {
	rocksdb_t *db;
	rocksdb_readoptions_t *ro;
	unsigned char *last;		/* last key handed out (malloc'd) */
	size_t llen, cap;
	bool after;			/* resume after last, not at it */
	char *errstr;			/* the failed batch's error */
};

static int kwalk_set(struct kwalk *w, const void *key, size_t klen,
		     bool after)
{
	/* Called for every key: the buffer only ever grows. */
	if (klen > w->cap || !w->last) {
		size_t cap = klen > 64 ? klen : 64;
		unsigned char *k = malloc(cap);

		if (!k)
			return -ENOMEM;
		free(w->last);
		w->last = k;
		w->cap = cap;
	}
	memmove(w->last, key, klen);
	w->llen = klen;
	w->after = after;
	return 0;
}

/*
 * Hand up to SCRUB_BATCH keys to @fn (1: stop after this key and return 1
 * with the walk positioned after it; negative: an error, returned). 0 at
 * the end, 1 with more to come, -EIO with w->errstr set when the iterator
 * failed (corruption among them: the caller decides where to go on).
 */
static int kwalk_batch(struct kwalk *w,
		       int (*fn)(void *arg, rocksdb_iterator_t *it,
				 const unsigned char *k, size_t klen),
		       void *arg)
{
	rocksdb_iterator_t *it = rocksdb_create_iterator(w->db, w->ro);
	int ret = 0;
	size_t n = 0;

	rocksdb_iter_seek(it, (const char *)w->last, w->llen);
	if (w->after && rocksdb_iter_valid(it)) {
		size_t kl;
		const char *k = rocksdb_iter_key(it, &kl);

		if (kl == w->llen && !memcmp(k, w->last, kl))
			rocksdb_iter_next(it);
	}
	while (!ret && rocksdb_iter_valid(it) && n++ < SCRUB_BATCH) {
		size_t kl;
		const unsigned char *k = (const unsigned char *)
			rocksdb_iter_key(it, &kl);

		ret = kwalk_set(w, k, kl, true);
		if (!ret)
			ret = fn(arg, it, k, kl);
		if (ret == 0)
			rocksdb_iter_next(it);
	}
	if (!ret && rocksdb_iter_valid(it))
		ret = 1;	/* the batch is full */
	if (ret >= 0) {
		rocksdb_iter_get_error(it, &w->errstr);
		if (w->errstr)
			ret = -EIO;
	}
	rocksdb_iter_destroy(it);
	return ret;
}

/* --- reporting ---------------------------------------------------------- */

struct find_name {
	uint64_t target;
	char name[DIR_NAME_MAX + 1];
	bool found;
};

static int find_name_cb(void *arg, const char *name, uint64_t ino,
			unsigned char type, uint64_t cookie)
{
	struct find_name *f = arg;

	(void)type;
	(void)cookie;
	if (ino != f->target)
		return 0;
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->found = true;
	return 1;
}

/* Prepend "/@name" to the path being built backwards at @path + *@at. */
static bool prepend(char *path, size_t *at, const char *name)
{
	size_t n = strlen(name);

	if (n + 1 > *at)
		return false;
	*at -= n;
	memcpy(path + *at, name, n);
	path[--*at] = '/';
	return true;
}

struct dirs {
	uint64_t *ino;
	size_t n, cap;
};

static int dirs_cb(void *arg, rocksdb_iterator_t *it, const unsigned char *k,
		   size_t klen)
{
	struct dirs *d = arg;
	size_t vlen;
	const char *v;
	struct tfs_irec r;

	if (klen < 1 || k[0] != TFS_K_INODE)
		return 1;	/* past the inode records: the end */
	v = rocksdb_iter_value(it, &vlen);
	if (klen != 9 || vlen < sizeof(r))
		return 0;
	memcpy(&r, v, sizeof(r));
	if (!S_ISDIR(r.mode))
		return 0;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		uint64_t *p = realloc(d->ino, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		d->ino = p;
		d->cap = cap;
	}
	d->ino[d->n++] = tfs_get_be64(k + 1);
	return 0;
}

/*
 * A path of @ino (any of its names) into @path, "" when none is found.
 * Costs a walk over every directory: only done for the first SCRUB_PATHS
 * damaged files of a scrub.
 */
static void find_path(struct scrub_run *r, uint64_t ino, char *path,
		      size_t size)
{
	unsigned char start = TFS_K_INODE;
	struct kwalk w = { .db = r->fs->db, .ro = r->ro };
	struct dirs d = { 0 };
	struct find_name f = { .target = ino };
	uint64_t dir = 0, parent;
	char *buf = malloc(SCRUB_PATH_MAX);
	size_t at = SCRUB_PATH_MAX - 1;
	int ret;

	path[0] = '\0';
	if (!buf || kwalk_set(&w, &start, 1, false))
		goto out;
	for (;;) {
		ret = kwalk_batch(&w, dirs_cb, &d);
		if (ret != 1 || w.last[0] != TFS_K_INODE || stopped(r->sc))
			break;
	}
	rocksdb_free(w.errstr);
	for (size_t i = 0; i < d.n && !f.found && !stopped(r->sc); i++) {
		dir = d.ino[i];
		tfs_readdir(r->fs, dir, 1, find_name_cb, &f);
	}
	buf[at] = '\0';
	if (!f.found || !prepend(buf, &at, f.name))
		goto out;
	/* Up the parents: each directory's name is in its parent. */
	for (int depth = 0; dir != TFS_ROOT_INO; depth++) {
		if (depth > 4096 || tfs_parent(r->fs, dir, &parent))
			goto out;
		f.target = dir;
		f.found = false;
		tfs_readdir(r->fs, parent, 1, find_name_cb, &f);
		if (!f.found || !prepend(buf, &at, f.name))
			goto out;
		dir = parent;
	}
	snprintf(path, size, "%s", buf + at);
out:
	free(d.ino);
	free(w.last);
	free(buf);
}

static void keep_damage(struct tfs_scrub *sc, uint64_t ino, uint64_t off,
			uint64_t len, bool corrected, const char *path)
{
	struct scrub_damage *d;

	pthread_mutex_lock(&sc->lock);
	if (corrected)
		sc->corrected++;
	else
		sc->errors++;
	if (sc->ndamage < SCRUB_KEEP) {
		d = &sc->damage[sc->ndamage++];
		d->ino = ino;
		d->off = off;
		d->len = len;
		d->corrected = corrected;
		snprintf(d->path, sizeof(d->path), "%s", path);
	}
	pthread_mutex_unlock(&sc->lock);
}

/* A damaged range of file r->ino (corrected: a good copy repaired it). */
static void report_range(struct scrub_run *r, uint64_t off, uint64_t len,
			 bool corrected, const char *store)
{
	struct tfs_scrub *sc = r->sc;
	char num[24], o[24], l[24];
	struct evt_kv kv[6];
	size_t n = 0;
	bool look;

	/* One lookup per file, whatever number of ranges it has. */
	if (r->path_ino != r->ino) {
		r->path_ino = r->ino;
		r->path[0] = '\0';
		pthread_mutex_lock(&sc->lock);
		look = sc->paths < SCRUB_PATHS;
		sc->paths += look;
		pthread_mutex_unlock(&sc->lock);
		if (look)
			find_path(r, r->ino, r->path, SCRUB_PATH_MAX);
	}
	keep_damage(sc, r->ino, off, len, corrected, r->path);
	if (!r->ev)
		return;
	snprintf(num, sizeof(num), "%" PRIu64, r->ino);
	snprintf(o, sizeof(o), "%" PRIu64, off);
	snprintf(l, sizeof(l), "%" PRIu64, len);
	kv[n++] = (struct evt_kv){ "op", "scrub", (size_t)-1 };
	kv[n++] = (struct evt_kv){ "ino", num, (size_t)-1 };
	if (r->path[0])
		kv[n++] = (struct evt_kv){ "path", r->path, (size_t)-1 };
	kv[n++] = (struct evt_kv){ "offset", o, (size_t)-1 };
	kv[n++] = (struct evt_kv){ "length", l, (size_t)-1 };
	kv[n++] = (struct evt_kv){ "store", store, (size_t)-1 };
	evt_emitv(r->ev, corrected ? EVT_CHECKSUM_CORRECTED :
		  EVT_CHECKSUM_ERROR, kv, n, NULL);
}

static void report_io(struct scrub_run *r, uint64_t ino, int rc)
{
	pthread_mutex_lock(&r->sc->lock);
	r->sc->io_errors++;
	pthread_mutex_unlock(&r->sc->lock);
	/* Reported only: errors= is for the requests that meet it. */
	if (r->ev)
		evt_io_error(r->ev, EVT_ERRORS_CONTINUE, "scrub", ino, NULL,
			     rc);
}

/* A database record that fails its checksum (ino 0: not an inode's). */
static void report_record(struct scrub_run *r, const unsigned char *after,
			  size_t alen, const char *why)
{
	char hex[2 * 64 + 1];
	size_t n = alen < 64 ? alen : 64;

	for (size_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", after[i]);
	hex[2 * n] = '\0';
	keep_damage(r->sc, 0, 0, 0, false, hex);
	if (r->ev)
		evt_emit(r->ev, EVT_CHECKSUM_ERROR, "op", "scrub",
			 "store", "metadata", "after_key", hex, "error", why,
			 NULL);
}

/* --- reading files ------------------------------------------------------ */

static void count_scanned(struct scrub_run *r, uint64_t n)
{
	/* A file that grew meanwhile counts no more than the total said. */
	if (n > r->want - r->counted)
		n = r->want - r->counted;
	r->counted += n;
	pthread_mutex_lock(&r->sc->lock);
	r->sc->bytes += n;
	pthread_mutex_unlock(&r->sc->lock);
}

static int remote_good(struct tfs_verify *v, const unsigned char *data,
		       uint64_t off, size_t n)
{
	struct scrub_run *r = v->arg;

	(void)data;
	(void)off;
	count_scanned(r, n);
	return pace(r->sc, n);
}

static int remote_bad(struct tfs_verify *v, uint64_t off, uint64_t len)
{
	struct scrub_run *r = v->arg;

	report_range(r, off, len, false, r->local ? "remote" : "data");
	count_scanned(r, len);
	return pace(r->sc, len);
}

static int local_good(struct tfs_verify *v, const unsigned char *data,
		      uint64_t off, size_t n)
{
	struct scrub_run *r = v->arg;

	(void)data;
	(void)off;
	return pace(r->sc, n);
}

/*
 * A range of a cache's local copy failed: read it through the cache,
 * which serves it from the remote and rewrites the piece, then read the
 * local copy again to see that it is whole.
 */
static int local_bad(struct tfs_verify *v, uint64_t off, uint64_t len)
{
	struct scrub_run *r = v->arg;
	struct objstore *cache = r->fs->data;
	bool fixed = true;

	for (uint64_t at = off; at < off + len; at += TFS_VERIFY_PIECE) {
		size_t n = off + len - at < TFS_VERIFY_PIECE ?
			   (size_t)(off + len - at) : TFS_VERIFY_PIECE;
		ssize_t got = objstore_read(cache, r->ino, at, r->buf2, n,
					    NULL);

		if (got >= 0)
			got = objstore_read(r->local, r->ino, at, r->buf2, n,
					    NULL);
		/* gone: evicted or removed meanwhile, nothing left bad */
		if (got < 0 && got != -ENOENT)
			fixed = false;
	}
	report_range(r, off, len, fixed, "local");
	return pace(r->sc, len);
}

/* Read object r->ino of @s whole. A gone object is not an error. */
static int verify_in(struct scrub_run *r, struct objstore *s, bool local)
{
	struct objstore_stat st;
	struct tfs_verify v = {
		.s = s,
		.id = r->ino,
		.buf = r->buf,
		.good = local ? local_good : remote_good,
		.bad = local ? local_bad : remote_bad,
		.arg = r,
	};
	int ret = objstore_stat(s, r->ino, &st, NULL);

	if (ret == -ENOENT)
		return 0;
	if (ret == -EBADMSG || ret == -EUCLEAN) {
		/* The object's own record: its data cannot be found. */
		if (!local)
			report_range(r, 0, r->want, false, "data");
		return 0;
	}
	if (ret) {
		report_io(r, r->ino, ret);
		return 0;
	}
	v.size = st.size;
	v.allocated = st.allocated;
	ret = tfs_obj_verify(&v);
	if (ret == -ENOENT || ret == -ECANCELED)
		return ret == -ECANCELED ? ret : 0;
	if (ret < 0)
		report_io(r, r->ino, ret);
	return 0;
}

static int scrub_file(struct scrub_run *r, uint64_t ino, uint64_t size)
{
	int ret;

	r->ino = ino;
	r->counted = 0;
	r->want = size;
	ret = verify_in(r, r->remote, false);
	if (!ret && r->local)
		ret = verify_in(r, r->local, true);
	if (ret)
		return ret;
	/* Holes not read, a file cut meanwhile: scanned all the same. */
	count_scanned(r, r->want - r->counted);
	pthread_mutex_lock(&r->sc->lock);
	r->sc->files++;
	pthread_mutex_unlock(&r->sc->lock);
	return 0;
}

/* --- the walks ---------------------------------------------------------- */

static bool file_record(rocksdb_iterator_t *it, const unsigned char *k,
			size_t klen, struct tfs_irec *r)
{
	size_t vlen;
	const char *v;

	if (klen != 9 || k[0] != TFS_K_INODE)
		return false;
	v = rocksdb_iter_value(it, &vlen);
	if (vlen < sizeof(*r))
		return false;	/* fsck's to judge */
	memcpy(r, v, sizeof(*r));
	return S_ISREG(r->mode);
}

static int count_cb(void *arg, rocksdb_iterator_t *it,
		    const unsigned char *k, size_t klen)
{
	struct tfs_scrub *sc = arg;
	struct tfs_irec r;

	if (klen < 1 || k[0] != TFS_K_INODE)
		return 1;
	if (!file_record(it, k, klen, &r))
		return 0;
	pthread_mutex_lock(&sc->lock);
	sc->total_bytes += r.size;
	sc->total_files++;
	pthread_mutex_unlock(&sc->lock);
	return 0;
}

struct walk_pos {
	struct scrub_run *r;
	uint64_t keys;
	uint64_t obj_ino, obj_size;	/* a file to read: stop here */
};

static int walk_cb(void *arg, rocksdb_iterator_t *it, const unsigned char *k,
		   size_t klen)
{
	struct walk_pos *p = arg;
	struct tfs_irec r;

	/* The store's data chunks are read with the files. */
	if (klen >= 2 && k[0] == OBJSTORE_ROCKSDB_PREFIX &&
	    k[1] == FK_OK_DATA)
		return -EAGAIN;
	p->keys++;
	if (!file_record(it, k, klen, &r))
		return 0;
	if (r.flags & TFS_I_OBJECT) {
		p->obj_ino = tfs_get_be64(k + 1);
		p->obj_size = r.size;
		return 1;
	}
	/* Inline data: the record just read, verified with it. */
	pthread_mutex_lock(&p->r->sc->lock);
	p->r->sc->bytes += r.size;
	p->r->sc->files++;
	pthread_mutex_unlock(&p->r->sc->lock);
	return 0;
}

/*
 * After a batch failed: report it (with @report), and find where reading
 * can go on. Nothing says where the damaged table block ends, so probe
 * past it: the first nine bytes of the last good key (a kind and an inode
 * or object number) as a number, plus 1, 2, 4, ... until a seek there
 * reads. The keys skipped are at most twice the damage's span. Returns 1
 * to go on (the walk positioned at the probe), 0 when nothing past it
 * reads, -ENOMEM.
 */
static int skip_damage(struct scrub_run *r, struct kwalk *w, bool report)
{
	unsigned char base[9] = { 0 };
	bool corrupt = strstr(w->errstr, "Corruption") != NULL;

	if (report && corrupt)
		report_record(r, w->last, w->llen, w->errstr);
	else if (report)
		report_io(r, 0, -EIO);
	rocksdb_free(w->errstr);
	w->errstr = NULL;
	memcpy(base, w->last, w->llen < 9 ? w->llen : 9);
	for (unsigned k = 0; k < 72 && !stopped(r->sc); k++) {
		unsigned char probe[9];
		unsigned carry = 1u << (k % 8);
		rocksdb_iterator_t *it;
		char *e = NULL;
		bool valid;

		memcpy(probe, base, 9);
		for (int i = 8 - (int)(k / 8); i >= 0 && carry; i--) {
			carry += probe[i];
			probe[i] = (unsigned char)carry;
			carry >>= 8;
		}
		if (carry)
			return 0;	/* past the last possible key */
		it = rocksdb_create_iterator(w->db, w->ro);
		rocksdb_iter_seek(it, (const char *)probe, 9);
		valid = rocksdb_iter_valid(it);
		rocksdb_iter_get_error(it, &e);
		rocksdb_iter_destroy(it);
		if (e) {
			rocksdb_free(e);
			continue;
		}
		if (!valid)
			return 0;
		return kwalk_set(w, probe, 9, false) ? -ENOMEM : 1;
	}
	return 0;
}

static int count_files(struct scrub_run *r)
{
	unsigned char start = TFS_K_INODE;
	struct kwalk w = { .db = r->fs->db, .ro = r->ro };
	int ret = kwalk_set(&w, &start, 1, false);

	while (ret == 0 || ret == 1) {
		ret = kwalk_batch(&w, count_cb, r->sc);
		if (ret == 1 && w.last[0] != TFS_K_INODE)
			ret = 0;	/* count_cb stopped at the end */
		if (ret == 0)
			break;
		if (ret == -EIO) {	/* reported by the walk that follows */
			ret = skip_damage(r, &w, false);
			if (ret == 1 && w.last[0] == TFS_K_INODE)
				continue;
			ret = ret < 0 ? ret : 0;
			break;
		}
		if (ret == 1 && stopped(r->sc))
			ret = -ECANCELED;
	}
	free(w.last);
	if (!ret) {
		pthread_mutex_lock(&r->sc->lock);
		r->sc->counted = true;
		pthread_mutex_unlock(&r->sc->lock);
	}
	return ret;
}

static int walk_all(struct scrub_run *r)
{
	static const char past_data[2] = { OBJSTORE_ROCKSDB_PREFIX,
					     FK_OK_DATA + 1 };
	struct kwalk w = { .db = r->fs->db, .ro = r->ro };
	struct walk_pos p = { .r = r };
	int ret = kwalk_set(&w, "", 0, false);

	while (!ret) {
		p.obj_ino = 0;
		p.keys = 0;
		ret = kwalk_batch(&w, walk_cb, &p);
		pthread_mutex_lock(&r->sc->lock);
		r->sc->keys += p.keys;
		pthread_mutex_unlock(&r->sc->lock);
		if (ret == -EAGAIN) {
			ret = kwalk_set(&w, past_data, 2, false);
		} else if (ret == -EIO) {
			ret = skip_damage(r, &w, true);
			if (ret == 0)
				break;		/* nothing past the damage */
			ret = ret == 1 ? 0 : ret;
		} else if (ret < 0) {
			break;
		} else if (p.obj_ino) {
			ret = scrub_file(r, p.obj_ino, p.obj_size);
		} else if (ret == 0) {
			break;			/* the end */
		} else {
			ret = 0;
		}
		if (!ret && stopped(r->sc))
			ret = -ECANCELED;
	}
	free(w.last);
	return ret;
}

static void lower_priority(void)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);

	/* A thread's nice value is its own on Linux. */
	setpriority(PRIO_PROCESS, (id_t)tid, 19);
#ifdef SYS_ioprio_set
	/* best-effort class (2), lowest level (7); 1: IOPRIO_WHO_PROCESS */
	syscall(SYS_ioprio_set, 1, (int)tid, (2 << 13) | 7);
#endif
}

static _Thread_local bool in_scrub;

bool tfs_in_scrub(void)
{
	return in_scrub;
}

static void *scrub_main(void *arg)
{
	struct tfs_scrub *sc = arg;
	struct scrub_run r = { .sc = sc, .fs = sc->fs };
	enum scrub_state end = SCRUB_DONE;
	int ret = -ENOMEM;

	in_scrub = true;
	lower_priority();
	r.ev = sc->fs->mount.events;
	r.remote = sc->fs->data;
	if (objstore_is_cache(r.remote)) {
		r.local = objstore_cache_local(r.remote);
		r.remote = objstore_cache_remote(r.remote);
	}
	r.ro = rocksdb_readoptions_create();
	r.buf = malloc(TFS_VERIFY_PIECE);
	r.buf2 = malloc(TFS_VERIFY_PIECE);
	r.path = malloc(SCRUB_PATH_MAX);
	if (r.ro && r.buf && r.buf2 && r.path) {
		rocksdb_readoptions_set_verify_checksums(r.ro, 1);
		/* The mount's hot blocks stay in the cache. */
		rocksdb_readoptions_set_fill_cache(r.ro, 0);
		ret = count_files(&r);
		if (!ret)
			ret = walk_all(&r);
	}
	pthread_mutex_lock(&sc->lock);
	if (ret == -ECANCELED) {
		end = SCRUB_CANCELLED;
	} else if (ret) {
		end = SCRUB_FAILED;
		snprintf(sc->why, sizeof(sc->why), "%s", strerror(-ret));
	}
	sc->state = end;
	clock_gettime(CLOCK_REALTIME, &sc->finished);
	pthread_cond_broadcast(&sc->cond);
	pthread_mutex_unlock(&sc->lock);
	rocksdb_readoptions_destroy(r.ro);
	free(r.buf);
	free(r.buf2);
	free(r.path);
	return NULL;
}

/* --- control ------------------------------------------------------------ */

/* Join a thread that has ended (or is ending): under no lock. */
static void reap(struct tfs_scrub *sc)
{
	bool join;

	pthread_mutex_lock(&sc->lock);
	join = sc->joinable && sc->state != SCRUB_RUNNING;
	sc->joinable = sc->joinable && !join;
	pthread_mutex_unlock(&sc->lock);
	if (join)
		pthread_join(sc->thread, NULL);
}

int tfs_scrub_start(struct tfs *fs, uint64_t rate, struct mixfs_err *err)
{
	struct tfs_scrub *sc;
	int ret = scrub_make(fs, &sc);

	if (ret)
		return mixfs_err_set(err, ret, "no memory for a scrub");
	reap(sc);
	pthread_mutex_lock(&sc->lock);
	if (sc->state == SCRUB_RUNNING || sc->joinable) {
		pthread_mutex_unlock(&sc->lock);
		return mixfs_err_set(err, -EBUSY,
			"a scrub is already running (scrub status to watch it, scrub cancel to stop it)");
	}
	sc->stop = false;
	sc->state = SCRUB_RUNNING;
	sc->rate = rate;
	sc->read = sc->bytes = sc->files = sc->keys = 0;
	sc->total_bytes = sc->total_files = 0;
	sc->counted = false;
	sc->errors = sc->corrected = sc->io_errors = sc->paths = 0;
	sc->ndamage = 0;
	sc->why[0] = '\0';
	clock_gettime(CLOCK_REALTIME, &sc->started);
	memset(&sc->finished, 0, sizeof(sc->finished));
	mono_now(&sc->t0);
	ret = pthread_create(&sc->thread, NULL, scrub_main, sc);
	if (ret) {
		sc->state = SCRUB_IDLE;
		pthread_mutex_unlock(&sc->lock);
		return mixfs_err_set(err, -ret, "cannot start the scrub thread: %s",
				     strerror(ret));
	}
	sc->joinable = true;
	pthread_mutex_unlock(&sc->lock);
	return 0;
}

int tfs_scrub_cancel(struct tfs *fs, unsigned wait_ms, struct mixfs_err *err)
{
	struct tfs_scrub *sc = scrub_get(fs);
	struct timespec due;
	int ret = 0;

	if (!sc)
		return mixfs_err_set(err, -ESRCH, "no scrub is running");
	pthread_mutex_lock(&sc->lock);
	if (sc->state != SCRUB_RUNNING) {
		pthread_mutex_unlock(&sc->lock);
		return mixfs_err_set(err, -ESRCH, "no scrub is running");
	}
	sc->stop = true;
	pthread_cond_broadcast(&sc->cond);
	mono_now(&due);
	due.tv_sec += wait_ms / 1000;
	due.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (due.tv_nsec >= 1000000000L) {
		due.tv_sec++;
		due.tv_nsec -= 1000000000L;
	}
	while (sc->state == SCRUB_RUNNING && !ret)
		ret = pthread_cond_timedwait(&sc->cond, &sc->lock, &due);
	pthread_mutex_unlock(&sc->lock);
	reap(sc);
	return 0;
}

void tfs_scrub_stop(struct tfs *fs)
{
	struct tfs_scrub *sc = scrub_get(fs);
	bool join;

	if (!sc)
		return;
	pthread_mutex_lock(&sc->lock);
	sc->stop = true;
	join = sc->joinable;
	sc->joinable = false;
	pthread_cond_broadcast(&sc->cond);
	pthread_mutex_unlock(&sc->lock);
	if (join)
		pthread_join(sc->thread, NULL);
	fs->scrub = NULL;
	pthread_cond_destroy(&sc->cond);
	pthread_mutex_destroy(&sc->lock);
	free(sc);
}

static void print_time(struct fsd_buf *out, const char *key,
		       const struct timespec *t)
{
	fsd_buf_printf(out, "%s: %lld\n", key, (long long)t->tv_sec);
}

void tfs_scrub_status(struct tfs *fs, bool damage, struct fsd_buf *out)
{
	struct tfs_scrub *sc = scrub_get(fs);
	struct timespec zero = { 0 };

	if (!sc) {
		fsd_buf_printf(out, "scrub_state: idle\n");
		print_time(out, "scrub_started", &zero);
		print_time(out, "scrub_finished", &zero);
		fsd_buf_printf(out, "scrub_bytes_scanned: 0\nscrub_bytes_total: 0\n"
			       "scrub_files_scanned: 0\nscrub_files_total: 0\n"
			       "scrub_records: 0\nscrub_errors: 0\n"
			       "scrub_corrected: 0\nscrub_io_errors: 0\n"
			       "scrub_rate: 0\n");
		return;
	}
	pthread_mutex_lock(&sc->lock);
	fsd_buf_printf(out, "scrub_state: %s\n", state_names[sc->state]);
	print_time(out, "scrub_started", &sc->started);
	print_time(out, "scrub_finished", &sc->finished);
	fsd_buf_printf(out, "scrub_bytes_scanned: %" PRIu64 "\n", sc->bytes);
	fsd_buf_printf(out, "scrub_bytes_total: %" PRIu64 "\n",
		       sc->total_bytes);
	fsd_buf_printf(out, "scrub_files_scanned: %" PRIu64 "\n", sc->files);
	fsd_buf_printf(out, "scrub_files_total: %" PRIu64 "\n",
		       sc->total_files);
	fsd_buf_printf(out, "scrub_records: %" PRIu64 "\n", sc->keys);
	fsd_buf_printf(out, "scrub_errors: %" PRIu64 "\n", sc->errors);
	fsd_buf_printf(out, "scrub_corrected: %" PRIu64 "\n", sc->corrected);
	fsd_buf_printf(out, "scrub_io_errors: %" PRIu64 "\n", sc->io_errors);
	fsd_buf_printf(out, "scrub_rate: %" PRIu64 "\n", sc->rate);
	if (sc->state == SCRUB_FAILED)
		fsd_buf_printf(out, "scrub_failure: %s\n", sc->why);
	for (size_t i = 0; damage && i < sc->ndamage; i++) {
		const struct scrub_damage *d = &sc->damage[i];
		char path[sizeof(d->path)];
		size_t j;

		/* one line each: a name may hold any byte */
		for (j = 0; d->path[j]; j++)
			path[j] = (unsigned char)d->path[j] < 0x20 ||
				  d->path[j] == 0x7f ? '?' : d->path[j];
		path[j] = '\0';
		if (!d->ino) {	/* a database record: path is the key */
			fsd_buf_printf(out, "scrub_damage: lost database records after key %s\n",
				       d->path);
			continue;
		}
		fsd_buf_printf(out, "scrub_damage: %s ino %" PRIu64
			       " offset %" PRIu64 " length %" PRIu64 "%s%s\n",
			       d->corrected ? "corrected" : "lost", d->ino,
			       d->off, d->len, path[0] ? " path " : "", path);
	}
	pthread_mutex_unlock(&sc->lock);
}

int tfs_scrub_ctl(struct tfs *fs, const char *args, struct fsd_buf *out,
		  struct mixfs_err *err)
{
	char word[16];
	int n = 0, ret;

	if (sscanf(args, " %15s %n", word, &n) != 1) {
		fsd_buf_printf(out, "scrub start [rate=MIB], scrub status, scrub cancel\n");
		return 0;
	}
	args += n;
	if (!strcmp(word, "start")) {
		unsigned long long mib = 0;
		char *end;

		if (*args) {
			if (strncmp(args, "rate=", 5))
				return mixfs_err_set(err, -EINVAL,
					"scrub start takes only rate=MIB (MiB per second), not '%s'",
					args);
			errno = 0;
			mib = strtoull(args + 5, &end, 10);
			if (errno || end == args + 5 || *end ||
			    mib > (UINT64_MAX >> 20))
				return mixfs_err_set(err, -EINVAL,
					"bad scrub rate '%s' (MiB per second, 0: no limit)",
					args + 5);
		}
		ret = tfs_scrub_start(fs, (uint64_t)mib << 20, err);
		if (ret)
			return ret;
		fsd_buf_printf(out, "scrub started\n");
		return 0;
	}
	if (*args)
		return mixfs_err_set(err, -EINVAL,
				     "scrub %s takes no arguments", word);
	if (!strcmp(word, "status")) {
		tfs_scrub_status(fs, true, out);
		return 0;
	}
	if (!strcmp(word, "cancel")) {
		ret = tfs_scrub_cancel(fs, 5000, err);
		if (!ret)
			tfs_scrub_status(fs, false, out);
		return ret;
	}
	return mixfs_err_set(err, -EINVAL,
		"unknown scrub command '%s' (start [rate=MIB], status, cancel)",
		word);
}
