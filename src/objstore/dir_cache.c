/*
 * dir_cache.c - the open objects of a dir: store, kept between calls.
 *
 * Opening an object costs an openat of its directory and of its meta file,
 * a pread of the meta, and for data an openat and fstat of the data and
 * checksum files, all closed again at the end of the call. For small
 * random I/O into a large object that was most of the work (a quarter of
 * a FUSE daemon's CPU in openat, close and fstatat). So the store keeps
 * the most recently used objects open: a hash by id for finding them, a
 * list in order of use for dropping the least recently used one once more
 * than cache_max are idle. An object in use (a reference held by a call)
 * is never closed under its user.
 *
 * What is kept is only ever changed through this store (the store
 * directory is flock()ed by one handle), so the sizes, chunk counts and
 * file lengths held in memory stay true. Two things end an entry: the
 * object's removal (objstore_dir_drop(), under the store's exclusive lock,
 * so no call holds it), and a change that failed part way
 * (objstore_dir_put() with @failed), after which nobody can say what the
 * files hold, so the next call reads them afresh.
 *
 * Locks, in the order they are taken: the store's rwlock, an object's
 * rwlock, the object's seg_mu; the store's mu is a leaf taken for a few
 * instructions to look up, link and count, never around I/O: objects are
 * opened before it is taken and closed after it is released.
 *
 * An object also carries, in memory, which of its chunks changed since
 * the last sync (struct dchunks, dir_data.c says what for). That must
 * outlive the object's stay in the cache: when an object leaves it, the
 * set is parked in a hash of its own under mu (no allocation: the set is
 * its own hash node), and the object's next open takes it back. A sync
 * empties both; a remove forgets the object's set.
 *
 * What it deliberately does not do: cache attributes (they are read whole
 * on each call, and are rare on the data path) or data (the host's page
 * cache already holds it); bound the total of open files other than
 * through cache_max (a call in flight holds its object open whatever the
 * bound, so up to cache_max + the number of threads objects are open).
 */
#include "objstore/dir_internal.h"

#include <endian.h>
#include <stdlib.h>

/* --- meta files --------------------------------------------------------- */

/*
 * Load the meta file of @o. An empty one is an object whose creation
 * reached the disk (its directory, by a commit of the host's journal at
 * anyone's fsync) but not its meta, whose 32 bytes are a plain write: it
 * was never synced (a sync writes the meta first) and reads as it was
 * created, empty. *@blank says so; a read-write open of the store clears
 * what such an object holds (objstore_dir_clear_blank()).
 */
static int meta_load(struct obj *o, bool *blank, struct mixfs_err *err)
{
	struct meta_head h;
	ssize_t n = pread_full(o->mfd, &h, sizeof(h), 0);

	*blank = n == 0;
	if (n == 0) {
		o->size = o->chunks = 0;
		return 0;
	}
	if (n < 0)
		return oerr(err, (int)n, o->id, "reading meta: %s",
			    strerror((int)-n));
	if ((size_t)n != sizeof(h))
		return oerr(err, -EUCLEAN, o->id,
			    "meta file is %zd bytes, shorter than its %zu-byte header",
			    n, sizeof(h));
	o->size = le64toh(h.size);
	o->chunks = le64toh(h.chunks);
	if (memcmp(h.magic, META_MAGIC, 8) || o->size > OBJSTORE_MAX_SIZE)
		return oerr(err, -EUCLEAN, o->id, "meta file is corrupt");
	return 0;
}

int objstore_dir_meta_save(const struct obj *o, struct mixfs_err *err)
{
	struct meta_head h;
	int ret;

	memcpy(h.magic, META_MAGIC, 8);
	h.size = htole64(o->size);
	h.chunks = htole64(o->chunks);
	h.reserved = 0;
	ret = pwrite_full(o->mfd, &h, sizeof(h), 0);
	if (ret)
		return oerr(err, ret, o->id, "writing meta: %s", strerror(-ret));
	return 0;
}

void objstore_dir_seg_close(struct seg *g)
{
	if (g->dfd >= 0)
		close(g->dfd);
	if (g->sfd >= 0)
		close(g->sfd);
	g->dfd = g->sfd = -1;
	g->no = SEG_NONE;
}

/* --- sets of changed chunks -------------------------------------------- */

static void dc_free(struct dchunks *dc)
{
	if (dc) {
		free(dc->r);
		free(dc);
	}
}

static struct dchunks **parked_bucket(struct dir_store *ds, uint64_t id)
{
	return &ds->parked[(id * UINT64_C(0x9e3779b97f4a7c15)) >> 32 &
			   (ds->nbuckets - 1)];
}

/* Keep @o's set of changed chunks for its next open (under mu). */
static void dc_park(struct dir_store *ds, struct obj *o)
{
	struct dchunks **b;

	if (!o->dc)
		return;
	if (!o->dc->n) {
		dc_free(o->dc);	/* nothing to keep: no system call, */
		o->dc = NULL;	/* fine under mu */
		return;
	}
	b = parked_bucket(ds, o->id);
	o->dc->id = o->id;
	o->dc->next = *b;
	*b = o->dc;
	o->dc = NULL;
}

/* Take the parked set of object @id, or NULL (under mu). */
static struct dchunks *dc_unpark(struct dir_store *ds, uint64_t id)
{
	struct dchunks **p, *dc;

	for (p = parked_bucket(ds, id); *p && (*p)->id != id; p = &(*p)->next)
		;
	dc = *p;
	if (dc)
		*p = dc->next;
	return dc;
}

/* --- one object ----------------------------------------------------------- */

static void obj_free(struct obj *o)
{
	unsigned i;

	for (i = 0; i < OBJ_SEGS; i++)
		objstore_dir_seg_close(&o->segs[i]);
	if (o->mfd >= 0)
		close(o->mfd);
	if (o->odfd >= 0)
		close(o->odfd);
	dc_free(o->dc);
	pthread_mutex_destroy(&o->seg_mu);
	pthread_rwlock_destroy(&o->lock);
	free(o);
}

/*
 * Open the directory and meta file of object @id into @o and load the
 * meta. On failure @o's files are closed again. The meta file is opened
 * for writing unless the store is read-only: the same open object serves
 * readers and writers.
 */
static int obj_files_open(struct dir_store *ds, uint64_t id, struct obj *o,
			  bool *blank, struct mixfs_err *err)
{
	bool rw = !ds->readonly;
	char name[32];
	int ret;

	o->id = id;
	o->ro = !rw;
	o->pairs = ds->pairs;
	o->mfd = -1;
	id_name(name, id, "");
	o->odfd = openat(ds->objfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o->odfd < 0 && errno == ENOENT)
		return mixfs_err_set(err, -ENOENT, "no object %016" PRIx64, id);
	if (o->odfd < 0)
		return oerr(err, -errno, id, "%s", strerror(errno));
	o->mfd = openat(o->odfd, "meta", (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (o->mfd < 0)
		ret = oerr(err, errno == ENOENT ? -EUCLEAN : -errno, id,
			   "meta file: %s", strerror(errno));
	else
		ret = meta_load(o, blank, err);
	if (ret) {
		if (o->mfd >= 0)
			close(o->mfd);
		close(o->odfd);
		o->mfd = o->odfd = -1;
	}
	return ret;
}

int objstore_dir_peek_chunks(struct dir_store *ds, uint64_t id,
			     uint64_t *chunks, bool *blank)
{
	struct obj o;
	int ret = obj_files_open(ds, id, &o, blank, NULL);

	if (ret)
		return ret;
	*chunks = o.chunks;
	close(o.mfd);
	close(o.odfd);
	return 0;
}

int objstore_dir_clear_blank(struct dir_store *ds, uint64_t id)
{
	struct obj o = { .id = id };
	struct dirent *de;
	char name[32];
	int ret;
	DIR *d;

	id_name(name, id, "");
	d = dir_stream(ds->objfd, name);
	if (!d)
		return -errno;
	/* Segment files: names of hex digits, with or without ".sum". */
	while ((de = readdir(d))) {
		size_t n = strspn(de->d_name, "0123456789abcdef");

		if (n && (!de->d_name[n] || !strcmp(de->d_name + n, ".sum")))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	o.mfd = openat(dirfd(d), "meta", O_WRONLY | O_CLOEXEC);
	ret = o.mfd < 0 ? -errno : objstore_dir_meta_save(&o, NULL);
	if (o.mfd >= 0)
		close(o.mfd);
	closedir(d);
	return ret;
}

static struct obj *obj_new(void)
{
	struct obj *o = calloc(1, sizeof(*o));
	unsigned i;

	if (!o)
		return NULL;
	o->odfd = o->mfd = -1;
	for (i = 0; i < OBJ_SEGS; i++) {
		o->segs[i].no = SEG_NONE;
		o->segs[i].dfd = o->segs[i].sfd = -1;
	}
	pthread_rwlock_init(&o->lock, NULL);
	pthread_mutex_init(&o->seg_mu, NULL);
	return o;
}

/* --- the hash and the LRU list (all under ds->mu) ------------------------- */

static struct obj **bucket(struct dir_store *ds, uint64_t id)
{
	/* Fibonacci hashing: consecutive ids spread over the buckets. */
	return &ds->buckets[(id * UINT64_C(0x9e3779b97f4a7c15)) >> 32 &
			    (ds->nbuckets - 1)];
}

static struct obj *cache_find(struct dir_store *ds, uint64_t id)
{
	struct obj *o;

	for (o = *bucket(ds, id); o && o->id != id; o = o->hnext)
		;
	return o;
}

static void lru_unlink(struct obj *o)
{
	o->prev->next = o->next;
	o->next->prev = o->prev;
}

static void lru_push(struct dir_store *ds, struct obj *o)
{
	o->next = ds->lru.next;
	o->prev = &ds->lru;
	ds->lru.next->prev = o;
	ds->lru.next = o;
}

static void cache_link(struct dir_store *ds, struct obj *o)
{
	struct obj **b = bucket(ds, o->id);

	o->hnext = *b;
	*b = o;
	lru_push(ds, o);
	ds->ncached++;
}

/* Take @o out of the hash and the list; it is stale from now on. Its
 * set of changed chunks is parked: nobody changes @o any more (it is idle,
 * or its exclusive holder is letting it go). */
static void cache_unlink(struct dir_store *ds, struct obj *o)
{
	struct obj **p;

	for (p = bucket(ds, o->id); *p != o; p = &(*p)->hnext)
		;
	*p = o->hnext;
	lru_unlink(o);
	o->stale = true;
	ds->ncached--;
	dc_park(ds, o);
}

/*
 * Unlink idle objects from the old end of the list until at most @keep
 * are cached (or only busy ones are left), chaining them on *@dead for the
 * caller to free once mu is released.
 */
static void cache_trim(struct dir_store *ds, size_t keep, struct obj **dead)
{
	struct obj *o = ds->lru.prev, *prev;

	for (; o != &ds->lru && ds->ncached > keep; o = prev) {
		prev = o->prev;
		if (o->refs)
			continue;
		cache_unlink(ds, o);
		o->hnext = *dead;
		*dead = o;
	}
}

static void free_chain(struct obj *o)
{
	struct obj *next;

	for (; o; o = next) {
		next = o->hnext;
		obj_free(o);
	}
}

/* --- the calls ------------------------------------------------------------ */

int objstore_dir_cache_init(struct dir_store *ds, size_t max)
{
	size_t n = 16;

	while (n < max * 2)
		n *= 2;
	ds->buckets = calloc(n, sizeof(*ds->buckets));
	ds->parked = calloc(n, sizeof(*ds->parked));
	if (!ds->buckets || !ds->parked) {
		free(ds->buckets);
		free(ds->parked);
		ds->buckets = NULL;
		ds->parked = NULL;
		return -ENOMEM;
	}
	ds->nbuckets = n;
	ds->lru.next = ds->lru.prev = &ds->lru;
	ds->cache_max = max;
	return 0;
}

void objstore_dir_cache_release(struct dir_store *ds)
{
	struct obj *dead = NULL;

	size_t i;

	if (!ds->buckets)
		return;
	cache_trim(ds, 0, &dead);
	free_chain(dead);
	for (i = 0; i < ds->nbuckets; i++)
		while (ds->parked[i])
			dc_free(dc_unpark(ds, ds->parked[i]->id));
	free(ds->buckets);
	free(ds->parked);
	ds->buckets = NULL;
	ds->parked = NULL;
}

/* Open object @id and put it in the cache, unless another call did so
 * first; either way *@out holds a reference to the cached one. */
static int cache_fill(struct dir_store *ds, uint64_t id, struct obj **out,
		      struct mixfs_err *err)
{
	struct obj *o = obj_new(), *dead = NULL, *other;
	bool blank;
	int ret;

	if (!o)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	ret = obj_files_open(ds, id, o, &blank, err);
	if (ret == -EMFILE || ret == -ENFILE) {
		/* Out of file descriptors: give back every idle one we hold
		 * and try once more. */
		pthread_mutex_lock(&ds->mu);
		cache_trim(ds, 0, &dead);
		pthread_mutex_unlock(&ds->mu);
		free_chain(dead);
		dead = NULL;
		ret = obj_files_open(ds, id, o, &blank, err);
	}
	if (ret) {
		obj_free(o);
		return ret;
	}
	pthread_mutex_lock(&ds->mu);
	other = cache_find(ds, id);
	if (other) {
		other->refs++;
		o->hnext = dead;
		dead = o;
		o = other;
	} else {
		o->refs = 1;
		o->dc = dc_unpark(ds, id);
		cache_link(ds, o);
	}
	pthread_mutex_unlock(&ds->mu);
	free_chain(dead);
	*out = o;
	return 0;
}

int objstore_dir_get(struct dir_store *ds, uint64_t id, bool excl,
		     struct obj **out, struct mixfs_err *err)
{
	struct obj *o;
	bool stale;
	int ret;

	for (;;) {
		pthread_mutex_lock(&ds->mu);
		o = cache_find(ds, id);
		if (o) {
			o->refs++;
			lru_unlink(o);
			lru_push(ds, o);
		}
		pthread_mutex_unlock(&ds->mu);
		if (!o) {
			ret = cache_fill(ds, id, &o, err);
			if (ret)
				return ret;
		}
		if (excl)
			pthread_rwlock_wrlock(&o->lock);
		else
			pthread_rwlock_rdlock(&o->lock);
		/* A change that failed while we waited made it stale: its
		 * figures are not to be trusted, open it again. */
		pthread_mutex_lock(&ds->mu);
		stale = o->stale;
		pthread_mutex_unlock(&ds->mu);
		if (!stale)
			break;
		objstore_dir_put(ds, o, false);
	}
	/* Written only by the exclusive holder: holders of the shared lock
	 * all read it as false at once. */
	if (excl)
		o->excl = true;
	*out = o;
	return 0;
}

void objstore_dir_put(struct dir_store *ds, struct obj *o, bool failed)
{
	struct obj *dead = NULL;

	pthread_mutex_lock(&ds->mu);
	if (failed && o->excl && !o->stale)
		cache_unlink(ds, o);
	pthread_mutex_unlock(&ds->mu);
	if (o->excl)
		o->excl = false;
	pthread_rwlock_unlock(&o->lock);

	pthread_mutex_lock(&ds->mu);
	o->refs--;
	if (o->stale && o->refs == 0) {
		o->hnext = NULL;
		dead = o;
	}
	cache_trim(ds, ds->cache_max, &dead);
	pthread_mutex_unlock(&ds->mu);
	free_chain(dead);
}

void objstore_dir_drop(struct dir_store *ds, uint64_t id)
{
	struct dchunks *dc;
	struct obj *o;

	pthread_mutex_lock(&ds->mu);
	o = cache_find(ds, id);
	if (o)
		cache_unlink(ds, o);
	if (o && o->refs)	/* never so under the exclusive store lock; */
		o = NULL;	/* but if it were, its last put frees it */
	/* What changed in an object that goes matters no more. */
	dc = dc_unpark(ds, id);
	pthread_mutex_unlock(&ds->mu);
	dc_free(dc);
	if (o)
		obj_free(o);
}

void objstore_dir_settle_all(struct dir_store *ds)
{
	struct dchunks *dc, *gone = NULL;
	struct obj *o;
	size_t i;

	/* Only calls holding the store lock change the dirty set, and the
	 * caller holds it exclusive: no lock needed to walk it. */
	for (i = 0; i < ds->ndirty; i++) {
		pthread_mutex_lock(&ds->mu);
		o = cache_find(ds, ds->dirty[i]);
		if (o && !o->dc)
			o = NULL;
		if (o)
			o->refs++;
		pthread_mutex_unlock(&ds->mu);
		if (!o)
			continue;
		/* Nobody else holds it: the store lock is ours alone. */
		pthread_rwlock_wrlock(&o->lock);
		o->excl = true;
		objstore_dir_settle(o);
		dc = o->dc;
		o->dc = NULL;
		objstore_dir_put(ds, o, false);
		dc_free(dc);
	}
	/* Parked sets belong to objects not open (some perhaps let go by
	 * the puts above): their stale checksums are settled by their next
	 * change instead of opening them now. */
	pthread_mutex_lock(&ds->mu);
	for (i = 0; i < ds->nbuckets; i++)
		while (ds->parked[i]) {
			dc = dc_unpark(ds, ds->parked[i]->id);
			dc->next = gone;
			gone = dc;
		}
	pthread_mutex_unlock(&ds->mu);
	for (; gone; gone = dc) {
		dc = gone->next;
		dc_free(gone);
	}
}
