/*
 * mem.c - the mem: backend: objects in process memory, gone at close.
 *
 * For tests and teaching. Each object is a sorted array of 4 KiB chunks
 * (holes are absent chunks and cost nothing) plus a sorted array of
 * attributes; the store is a sorted array of objects. Sorted arrays with
 * binary search are plain and fast enough here; a learner can read them.
 *
 * Locking: one rwlock per store. Readers (read, stat, getattr, listattr,
 * list, statfs) share it; every change takes it exclusively, so a write is
 * never seen half done.
 *
 * Capacity (?size=N, default: the machine's physical memory) counts data
 * chunks only. Every change checks capacity and allocates what it needs
 * before it changes anything, so a failure (-ENOSPC, -ENOMEM) changes
 * nothing.
 *
 * Transactions are atomic: the commit works on copies of the objects it
 * touches (the copies share data chunks with the originals through a
 * reference count and copy a chunk before changing it), and swaps the
 * copies in only when every step succeeded.
 *
 * It deliberately does not persist anything, nor checksum data (memory is
 * not a medium that rots between calls).
 */
#include "objstore/backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

#define MEM_CHUNK	4096u

struct mem_chunk {
	uint64_t idx;			/* offset / MEM_CHUNK */
	unsigned ref;			/* objects sharing it (>1 only in a txn) */
	unsigned char data[MEM_CHUNK];
};

struct mem_attr {
	char *name;
	void *val;
	size_t len;
};

struct mem_obj {
	uint64_t id;
	uint64_t size;
	struct timespec mtime;
	struct mem_chunk **chunks;	/* sorted by idx */
	size_t nchunks, chunk_cap;
	struct mem_attr *attrs;		/* sorted by name */
	size_t nattrs;
};

struct mem_store {
	struct objstore base;
	pthread_rwlock_t lock;		/* protects everything below */
	struct mem_obj **objs;		/* sorted by id */
	size_t nobjs, obj_cap;
	uint64_t capacity;		/* fixed at open */
	uint64_t used;			/* chunks held * MEM_CHUNK */
	uint64_t next_id;		/* every id ever used is below it */
	bool ids_exhausted;		/* UINT64_MAX was used */
};

static struct mem_store *mem_of(struct objstore *s)
{
	return container_of(s, struct mem_store, base);
}

/* --- chunks ------------------------------------------------------------- */

static void chunk_put(struct mem_chunk *c)
{
	if (c && --c->ref == 0)
		free(c);
}

/* Index of the first chunk with idx >= @idx. */
static size_t chunk_lower(const struct mem_obj *o, uint64_t idx)
{
	size_t lo = 0, hi = o->nchunks;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->chunks[mid]->idx < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct mem_chunk *chunk_find(const struct mem_obj *o, uint64_t idx)
{
	size_t i = chunk_lower(o, idx);

	return i < o->nchunks && o->chunks[i]->idx == idx ? o->chunks[i] : NULL;
}

static int chunks_reserve(struct mem_obj *o, size_t more)
{
	size_t cap = o->chunk_cap ? o->chunk_cap : 4;
	struct mem_chunk **p;

	if (o->nchunks + more <= o->chunk_cap)
		return 0;
	while (cap < o->nchunks + more)
		cap *= 2;
	p = realloc(o->chunks, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	o->chunks = p;
	o->chunk_cap = cap;
	return 0;
}

/* Drop chunks [@from, @to) of the array (indexes into o->chunks). */
static void chunks_drop(struct mem_obj *o, size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to; i++)
		chunk_put(o->chunks[i]);
	if (o->nchunks > to)	/* never memmove from NULL, even 0 bytes */
		memmove(&o->chunks[from], &o->chunks[to],
			(o->nchunks - to) * sizeof(o->chunks[0]));
	o->nchunks -= to - from;
}

/*
 * A pool of chunks allocated before a change starts, so that the change
 * itself cannot fail half way.
 */
struct chunk_pool {
	struct mem_chunk **c;
	size_t n;
};

static int pool_fill(struct chunk_pool *p, size_t n)
{
	p->n = 0;
	p->c = n ? calloc(n, sizeof(*p->c)) : NULL;
	if (n && !p->c)
		return -ENOMEM;
	for (; p->n < n; p->n++) {
		p->c[p->n] = malloc(sizeof(struct mem_chunk));
		if (!p->c[p->n])
			return -ENOMEM;
	}
	return 0;
}

static struct mem_chunk *pool_take(struct chunk_pool *p)
{
	return p->c[--p->n];
}

static void pool_release(struct chunk_pool *p)
{
	while (p->n)
		free(p->c[--p->n]);
	free(p->c);
	p->c = NULL;
}

/* The chunk at array position @i, copied first if shared. */
static struct mem_chunk *chunk_own(struct mem_obj *o, size_t i,
				   struct chunk_pool *p)
{
	struct mem_chunk *c = o->chunks[i], *n;

	if (c->ref == 1)
		return c;
	n = pool_take(p);
	memcpy(n, c, sizeof(*n));
	n->ref = 1;
	c->ref--;
	o->chunks[i] = n;
	return n;
}

static void zero_in_chunk(struct mem_obj *o, uint64_t idx, size_t from,
			  size_t to, struct chunk_pool *p)
{
	size_t i = chunk_lower(o, idx);

	if (i < o->nchunks && o->chunks[i]->idx == idx)
		memset(chunk_own(o, i, p)->data + from, 0, to - from);
}

static bool chunk_shared(const struct mem_obj *o, uint64_t idx)
{
	const struct mem_chunk *c = chunk_find(o, idx);

	return c && c->ref > 1;
}

/* --- objects ------------------------------------------------------------ */

static void attrs_free(struct mem_attr *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(a[i].name);
		free(a[i].val);
	}
	free(a);
}

static void obj_free(struct mem_obj *o)
{
	size_t i;

	if (!o)
		return;
	for (i = 0; i < o->nchunks; i++)
		chunk_put(o->chunks[i]);
	free(o->chunks);
	attrs_free(o->attrs, o->nattrs);
	free(o);
}

static void obj_touch(struct mem_obj *o)
{
	clock_gettime(CLOCK_REALTIME, &o->mtime);
}

static struct mem_obj *obj_new(uint64_t id)
{
	struct mem_obj *o = calloc(1, sizeof(*o));

	if (o) {
		o->id = id;
		obj_touch(o);
	}
	return o;
}

/* A copy sharing the data chunks, with its own attributes. */
static struct mem_obj *obj_clone(const struct mem_obj *src)
{
	struct mem_obj *o = calloc(1, sizeof(*o));
	size_t i;

	if (!o)
		return NULL;
	*o = *src;
	o->chunks = NULL;
	o->chunk_cap = 0;
	o->nchunks = 0;
	o->attrs = NULL;
	o->nattrs = 0;
	if (chunks_reserve(o, src->nchunks))
		goto out_free;
	if (src->nattrs && !(o->attrs = calloc(src->nattrs, sizeof(*o->attrs))))
		goto out_free;
	for (i = 0; i < src->nattrs; i++) {
		struct mem_attr *a = &o->attrs[i];

		a->name = strdup(src->attrs[i].name);
		a->val = malloc(src->attrs[i].len ? src->attrs[i].len : 1);
		a->len = src->attrs[i].len;
		o->nattrs++;
		if (!a->name || !a->val)
			goto out_free;
		memcpy(a->val, src->attrs[i].val, a->len);
	}
	for (i = 0; i < src->nchunks; i++) {
		o->chunks[i] = src->chunks[i];
		o->chunks[i]->ref++;
	}
	o->nchunks = src->nchunks;
	return o;
out_free:
	obj_free(o);
	return NULL;
}

static uint64_t obj_allocated(const struct mem_obj *o)
{
	return (uint64_t)o->nchunks * MEM_CHUNK;
}

/* Capacity bookkeeping for one change: @used is updated only on success. */
struct budget {
	uint64_t *used;
	uint64_t capacity;
};

static int budget_check(const struct budget *b, size_t new_chunks,
			struct mixfs_err *err)
{
	uint64_t need = (uint64_t)new_chunks * MEM_CHUNK;

	if (need > b->capacity || *b->used > b->capacity - need)
		return mixfs_err_set(err, -ENOSPC,
			"mem store full: %llu of %llu bytes used, %llu more needed",
			(unsigned long long)*b->used,
			(unsigned long long)b->capacity,
			(unsigned long long)need);
	return 0;
}

static int obj_write(struct mem_obj *o, uint64_t off, const void *buf,
		     size_t len, struct budget *b, struct mixfs_err *err)
{
	uint64_t first, last, idx;
	size_t fresh = 0, shared = 0, i;
	struct chunk_pool pool = { 0 };
	const unsigned char *src = buf;
	int ret;

	if (len == 0) {
		obj_touch(o);
		return 0;
	}
	first = off / MEM_CHUNK;
	last = (off + len - 1) / MEM_CHUNK;
	for (idx = first, i = chunk_lower(o, first); idx <= last; idx++) {
		if (i < o->nchunks && o->chunks[i]->idx == idx) {
			shared += o->chunks[i]->ref > 1;
			i++;
		} else {
			fresh++;
		}
	}
	ret = budget_check(b, fresh, err);
	if (ret)
		return ret;
	if (chunks_reserve(o, fresh) || pool_fill(&pool, fresh + shared)) {
		pool_release(&pool);
		return mixfs_err_set(err, -ENOMEM, "out of memory writing %zu bytes",
				     len);
	}
	i = chunk_lower(o, first);
	for (idx = first; idx <= last; idx++, i++) {
		uint64_t cstart = idx * MEM_CHUNK;
		size_t from = off > cstart ? (size_t)(off - cstart) : 0;
		size_t to = off + len - cstart < MEM_CHUNK ?
			(size_t)(off + len - cstart) : MEM_CHUNK;
		struct mem_chunk *c;

		if (i < o->nchunks && o->chunks[i]->idx == idx) {
			c = chunk_own(o, i, &pool);
		} else {
			c = pool_take(&pool);
			memset(c->data, 0, sizeof(c->data));
			c->idx = idx;
			c->ref = 1;
			memmove(&o->chunks[i + 1], &o->chunks[i],
				(o->nchunks - i) * sizeof(o->chunks[0]));
			o->chunks[i] = c;
			o->nchunks++;
		}
		memcpy(c->data + from, src + (cstart + from - off), to - from);
	}
	pool_release(&pool);
	*b->used += (uint64_t)fresh * MEM_CHUNK;
	if (off + len > o->size)
		o->size = off + len;
	obj_touch(o);
	return 0;
}

static int obj_truncate(struct mem_obj *o, uint64_t size, struct budget *b,
			struct mixfs_err *err)
{
	uint64_t idx = size / MEM_CHUNK;
	size_t tail = (size_t)(size % MEM_CHUNK);
	struct chunk_pool pool;
	size_t i, before = o->nchunks;

	if (size < o->size) {
		/* Zero the kept chunk's tail first: it is the only step that
		 * can fail (copying a shared chunk). */
		if (pool_fill(&pool, tail && chunk_shared(o, idx))) {
			pool_release(&pool);
			return mixfs_err_set(err, -ENOMEM, "out of memory truncating");
		}
		if (tail)
			zero_in_chunk(o, idx, tail, MEM_CHUNK, &pool);
		pool_release(&pool);
		i = chunk_lower(o, tail ? idx + 1 : idx);
		chunks_drop(o, i, o->nchunks);
		*b->used -= (uint64_t)(before - o->nchunks) * MEM_CHUNK;
	}
	o->size = size;
	obj_touch(o);
	return 0;
}

static int obj_punch(struct mem_obj *o, uint64_t off, uint64_t len,
		     struct budget *b, struct mixfs_err *err)
{
	uint64_t end = off + len, first, last;
	struct chunk_pool pool;
	size_t before = o->nchunks, from, to;

	if (end > o->size)
		end = o->size;
	if (off >= end)
		return 0;
	first = off / MEM_CHUNK;
	last = (end - 1) / MEM_CHUNK;
	if (pool_fill(&pool, chunk_shared(o, first) + chunk_shared(o, last))) {
		pool_release(&pool);
		return mixfs_err_set(err, -ENOMEM, "out of memory punching");
	}
	/* Partial chunks at either end are zeroed, whole ones dropped. */
	if (off % MEM_CHUNK) {
		size_t z = end - first * MEM_CHUNK < MEM_CHUNK ?
			(size_t)(end - first * MEM_CHUNK) : MEM_CHUNK;

		zero_in_chunk(o, first, off % MEM_CHUNK, z, &pool);
		first++;
	}
	if (end % MEM_CHUNK && last >= first && end != o->size) {
		zero_in_chunk(o, last, 0, end % MEM_CHUNK, &pool);
		if (last == 0)
			goto out;
		last--;
	}
	if (first <= last) {
		from = chunk_lower(o, first);
		to = chunk_lower(o, last + 1);
		chunks_drop(o, from, to);
	}
out:
	pool_release(&pool);
	*b->used -= (uint64_t)(before - o->nchunks) * MEM_CHUNK;
	obj_touch(o);
	return 0;
}

static size_t attr_lower(const struct mem_obj *o, const char *name)
{
	size_t lo = 0, hi = o->nattrs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(o->attrs[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct mem_attr *attr_find(const struct mem_obj *o, const char *name)
{
	size_t i = attr_lower(o, name);

	return i < o->nattrs && !strcmp(o->attrs[i].name, name) ?
		&o->attrs[i] : NULL;
}

static int obj_setattr(struct mem_obj *o, const char *name, const void *val,
		       size_t len, struct mixfs_err *err)
{
	struct mem_attr *a = attr_find(o, name), *arr;
	void *copy = malloc(len ? len : 1);
	char *dup = NULL;
	size_t i;

	if (!copy)
		goto out_nomem;
	memcpy(copy, val, len);
	if (a) {
		free(a->val);
		a->val = copy;
		a->len = len;
		return 0;
	}
	dup = strdup(name);
	arr = realloc(o->attrs, (o->nattrs + 1) * sizeof(*arr));
	if (!dup || !arr)
		goto out_nomem;
	o->attrs = arr;
	i = attr_lower(o, name);
	memmove(&arr[i + 1], &arr[i], (o->nattrs - i) * sizeof(*arr));
	arr[i].name = dup;
	arr[i].val = copy;
	arr[i].len = len;
	o->nattrs++;
	return 0;
out_nomem:
	free(copy);
	free(dup);
	return mixfs_err_set(err, -ENOMEM, "out of memory setting attribute '%s'",
			     name);
}

static int obj_rmattr(struct mem_obj *o, const char *name,
		      struct mixfs_err *err)
{
	struct mem_attr *a = attr_find(o, name);
	size_t i;

	if (!a)
		return mixfs_err_set(err, -ENODATA,
			"object %llu has no attribute '%s'",
			(unsigned long long)o->id, name);
	i = (size_t)(a - o->attrs);
	free(a->name);
	free(a->val);
	memmove(&o->attrs[i], &o->attrs[i + 1],
		(o->nattrs - i - 1) * sizeof(*a));
	o->nattrs--;
	return 0;
}

/* --- the store's object array -------------------------------------------- */

static size_t obj_lower(const struct mem_store *m, uint64_t id)
{
	size_t lo = 0, hi = m->nobjs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->objs[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct mem_obj *obj_find(const struct mem_store *m, uint64_t id)
{
	size_t i = obj_lower(m, id);

	return i < m->nobjs && m->objs[i]->id == id ? m->objs[i] : NULL;
}

static int objs_reserve(struct mem_store *m, size_t more)
{
	size_t cap = m->obj_cap ? m->obj_cap : 16;
	struct mem_obj **p;

	if (m->nobjs + more <= m->obj_cap)
		return 0;
	while (cap < m->nobjs + more)
		cap *= 2;
	p = realloc(m->objs, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	m->objs = p;
	m->obj_cap = cap;
	return 0;
}

/* Insert @o (its id absent); room must have been reserved. */
static void objs_insert(struct mem_store *m, struct mem_obj *o)
{
	size_t i = obj_lower(m, o->id);

	memmove(&m->objs[i + 1], &m->objs[i],
		(m->nobjs - i) * sizeof(m->objs[0]));
	m->objs[i] = o;
	m->nobjs++;
}

static void objs_unlink(struct mem_store *m, uint64_t id)
{
	size_t i = obj_lower(m, id);

	memmove(&m->objs[i], &m->objs[i + 1],
		(m->nobjs - i - 1) * sizeof(m->objs[0]));
	m->nobjs--;
}

static void note_id_used(struct mem_store *m, uint64_t id)
{
	if (id == UINT64_MAX)
		m->ids_exhausted = true;
	else if (id >= m->next_id)
		m->next_id = id + 1;
}

static int no_object(uint64_t id, struct mixfs_err *err)
{
	return mixfs_err_set(err, -ENOENT, "no object %llu",
			     (unsigned long long)id);
}

/* --- ops ---------------------------------------------------------------- */

static uint64_t physical_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || psz <= 0)
		return UINT64_C(1) << 30;	/* unknowable: a modest guess */
	return (uint64_t)pages * (uint64_t)psz;
}

static int mem_store_open(const char *rest, unsigned flags,
			  struct objstore **out, struct mixfs_err *err)
{
	static const char *const known[] = { "size", NULL };
	const char *query;
	char *path, val[64];
	struct mem_store *m;
	int ret;

	(void)flags;
	if (objstore_uri_split(rest, &path, &query))
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	if (path[0]) {
		ret = mixfs_err_set(err, -EINVAL,
			"mem: takes no path (got '%s'); use mem: or mem:?size=N",
			path);
		free(path);
		return ret;
	}
	free(path);
	ret = objstore_uri_check_keys(query, known, err);
	if (ret)
		return ret;
	m = calloc(1, sizeof(*m));
	if (!m)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	m->capacity = physical_memory();
	ret = objstore_uri_param(query, "size", val, sizeof(val));
	if (ret == 1 && objstore_parse_size(val, &m->capacity) < 0)
		ret = -EINVAL;
	if (ret < 0) {
		free(m);
		return mixfs_err_set(err, -EINVAL, "mem: bad size= value");
	}
	if (pthread_rwlock_init(&m->lock, NULL)) {
		free(m);
		return mixfs_err_set(err, -ENOMEM, "cannot create a lock");
	}
	m->next_id = 1;
	m->base.ops = &objstore_mem_ops;
	m->base.caps = OBJSTORE_CAP_ATOMIC_TXN | OBJSTORE_CAP_SEEK_HOLES;
	m->base.format_version = OBJSTORE_FORMAT_VERSION;
	uuid_generate(m->base.uuid);
	*out = &m->base;
	return 0;
}

static int mem_close(struct objstore *s)
{
	struct mem_store *m = mem_of(s);
	size_t i;

	for (i = 0; i < m->nobjs; i++)
		obj_free(m->objs[i]);
	free(m->objs);
	pthread_rwlock_destroy(&m->lock);
	free(m);
	return 0;
}

static int create_locked(struct mem_store *m, uint64_t id,
			 struct mixfs_err *err)
{
	struct mem_obj *o;

	if (obj_find(m, id))
		return mixfs_err_set(err, -EEXIST, "object %llu exists",
				     (unsigned long long)id);
	o = obj_new(id);
	if (!o || objs_reserve(m, 1)) {
		free(o);
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	}
	objs_insert(m, o);
	note_id_used(m, id);
	return 0;
}

static int mem_create(struct objstore *s, uint64_t id, struct mixfs_err *err)
{
	struct mem_store *m = mem_of(s);
	int ret;

	pthread_rwlock_wrlock(&m->lock);
	ret = create_locked(m, id, err);
	pthread_rwlock_unlock(&m->lock);
	return ret;
}

static int mem_create_fresh(struct objstore *s, uint64_t *id,
			    struct mixfs_err *err)
{
	struct mem_store *m = mem_of(s);
	uint64_t fresh;
	int ret;

	pthread_rwlock_wrlock(&m->lock);
	fresh = m->next_id;
	if (m->ids_exhausted)
		ret = mixfs_err_set(err, -ENOSPC, "no unused object ids left");
	else
		ret = create_locked(m, fresh, err);
	if (!ret)
		*id = fresh;
	pthread_rwlock_unlock(&m->lock);
	return ret;
}

static int mem_remove(struct objstore *s, uint64_t id, struct mixfs_err *err)
{
	struct mem_store *m = mem_of(s);
	struct mem_obj *o;
	int ret = 0;

	pthread_rwlock_wrlock(&m->lock);
	o = obj_find(m, id);
	if (o) {
		objs_unlink(m, id);
		m->used -= obj_allocated(o);
		obj_free(o);
	} else {
		ret = no_object(id, err);
	}
	pthread_rwlock_unlock(&m->lock);
	return ret;
}

static ssize_t mem_read(struct objstore *s, uint64_t id, uint64_t off,
			void *buf, size_t len, struct mixfs_err *err)
{
	struct mem_store *m = mem_of(s);
	unsigned char *dst = buf;
	struct mem_obj *o;
	size_t done = 0, i;
	ssize_t ret;

	pthread_rwlock_rdlock(&m->lock);
	o = obj_find(m, id);
	if (!o) {
		ret = no_object(id, err);
		goto out_unlock;
	}
	if (off >= o->size) {
		ret = 0;
		goto out_unlock;
	}
	if (len > o->size - off)
		len = (size_t)(o->size - off);
	i = chunk_lower(o, off / MEM_CHUNK);
	while (done < len) {
		uint64_t pos = off + done, idx = pos / MEM_CHUNK;
		size_t in = (size_t)(pos % MEM_CHUNK);
		size_t n = MEM_CHUNK - in < len - done ? MEM_CHUNK - in : len - done;

		if (i < o->nchunks && o->chunks[i]->idx == idx)
			memcpy(dst + done, o->chunks[i++]->data + in, n);
		else
			memset(dst + done, 0, n);
		done += n;
	}
	ret = (ssize_t)len;
out_unlock:
	pthread_rwlock_unlock(&m->lock);
	return ret;
}

/* Holes are the absent chunks. */
static int mem_seek(struct objstore *s, uint64_t id, uint64_t off, int whence,
		    uint64_t *out, struct mixfs_err *err)
{
	struct mem_store *m = mem_of(s);
	uint64_t idx = off / MEM_CHUNK, pos;
	struct mem_obj *o;
	size_t i;
	int ret = 0;

	pthread_rwlock_rdlock(&m->lock);
	o = obj_find(m, id);
	if (!o) {
		ret = no_object(id, err);
		goto out_unlock;
	}
	if (off >= o->size) {
		ret = -ENXIO;
		goto out_unlock;
	}
	i = chunk_lower(o, idx);
	if (whence == SEEK_DATA) {
		if (i == o->nchunks)
			ret = -ENXIO;
		else
			*out = o->chunks[i]->idx == idx ? off
				: o->chunks[i]->idx * MEM_CHUNK;
		goto out_unlock;
	}
	while (i < o->nchunks && o->chunks[i]->idx == idx) {
		i++;
		idx++;
	}
	pos = idx * MEM_CHUNK;
	*out = pos < off ? off : pos < o->size ? pos : o->size;
out_unlock:
	pthread_rwlock_unlock(&m->lock);
	return ret;
}

/* Run @fn on object @id under the write lock with the store's budget. */
static int with_object(struct mem_store *m, uint64_t id,
		       int (*fn)(struct mem_obj *, const void *, struct budget *,
				 struct mixfs_err *),
		       const void *arg, struct mixfs_err *err)
{
	struct budget b = { &m->used, m->capacity };
	struct mem_obj *o;
	int ret;

	pthread_rwlock_wrlock(&m->lock);
	o = obj_find(m, id);
	ret = o ? fn(o, arg, &b, err) : no_object(id, err);
	pthread_rwlock_unlock(&m->lock);
	return ret;
}

struct range_arg {
	uint64_t off, len;
	const void *buf;
	const char *name;
};

static int do_write(struct mem_obj *o, const void *a, struct budget *b,
		    struct mixfs_err *err)
{
	const struct range_arg *r = a;

	return obj_write(o, r->off, r->buf, (size_t)r->len, b, err);
}

static int do_truncate(struct mem_obj *o, const void *a, struct budget *b,
		       struct mixfs_err *err)
{
	return obj_truncate(o, ((const struct range_arg *)a)->off, b, err);
}

static int do_punch(struct mem_obj *o, const void *a, struct budget *b,
		    struct mixfs_err *err)
{
	const struct range_arg *r = a;

	return obj_punch(o, r->off, r->len, b, err);
}

static int do_setattr(struct mem_obj *o, const void *a, struct budget *b,
		      struct mixfs_err *err)
{
	const struct range_arg *r = a;

	(void)b;
	return obj_setattr(o, r->name, r->buf, (size_t)r->len, err);
}

static int do_rmattr(struct mem_obj *o, const void *a, struct budget *b,
		     struct mixfs_err *err)
{
	(void)b;
	return obj_rmattr(o, ((const struct range_arg *)a)->name, err);
}

static int mem_write(struct objstore *s, uint64_t id, uint64_t off,
		     const void *buf, size_t len, struct mixfs_err *err)
{
	struct range_arg r = { .off = off, .len = len, .buf = buf };

	return with_object(mem_of(s), id, do_write, &r, err);
}

static int mem_truncate(struct objstore *s, uint64_t id, uint64_t size,
			struct mixfs_err *err)
{
	struct range_arg r = { .off = size };

	return with_object(mem_of(s), id, do_truncate, &r, err);
}

static int mem_punch(struct objstore *s, uint64_t id, uint64_t off,
		     uint64_t len, struct mixfs_err *err)
{
	struct range_arg r = { .off = off, .len = len };

	return with_object(mem_of(s), id, do_punch, &r, err);
}

static int mem_setattr(struct objstore *s, uint64_t id, const char *name,
		       const void *val, size_t len, struct mixfs_err *err)
{
	struct range_arg r = { .len = len, .buf = val, .name = name };

	return with_object(mem_of(s), id, do_setattr, &r, err);
}

static int mem_rmattr(struct objstore *s, uint64_t id, const char *name,
		      struct mixfs_err *err)
{
	struct range_arg r = { .name = name };

	return with_object(mem_of(s), id, do_rmattr, &r, err);
}

static int mem_stat(struct objstore *s, uint64_t id, struct objstore_stat *st,
		    struct mixfs_err *err)
{
	struct mem_store *m = mem_of(s);
	struct mem_obj *o;
	int ret = 0;

	pthread_rwlock_rdlock(&m->lock);
	o = obj_find(m, id);
	if (o) {
		st->size = o->size;
		st->allocated = obj_allocated(o);
		st->mtime = o->mtime;
	} else {
		ret = no_object(id, err);
	}
	pthread_rwlock_unlock(&m->lock);
	return ret;
}

static int mem_list(struct objstore *s, uint64_t *cursor, uint64_t *ids,
		    size_t max, size_t *n, struct mixfs_err *err)
{
	struct mem_store *m = mem_of(s);
	size_t i;

	(void)err;
	*n = 0;
	if (*cursor == UINT64_MAX)
		return 0;
	pthread_rwlock_rdlock(&m->lock);
	for (i = obj_lower(m, *cursor + 1); i < m->nobjs && *n < max; i++)
		ids[(*n)++] = m->objs[i]->id;
	pthread_rwlock_unlock(&m->lock);
	if (*n)
		*cursor = ids[*n - 1];
	return 0;
}

static ssize_t mem_getattr(struct objstore *s, uint64_t id, const char *name,
			   void *buf, size_t size, struct mixfs_err *err)
{
	struct mem_store *m = mem_of(s);
	struct mem_attr *a;
	struct mem_obj *o;
	ssize_t ret;

	pthread_rwlock_rdlock(&m->lock);
	o = obj_find(m, id);
	if (!o) {
		ret = no_object(id, err);
	} else if (!(a = attr_find(o, name))) {
		ret = mixfs_err_set(err, -ENODATA,
			"object %llu has no attribute '%s'",
			(unsigned long long)id, name);
	} else if (size && size < a->len) {
		ret = mixfs_err_set(err, -ERANGE,
			"attribute '%s' holds %zu bytes, buffer has %zu",
			name, a->len, size);
	} else {
		if (size)
			memcpy(buf, a->val, a->len);
		ret = (ssize_t)a->len;
	}
	pthread_rwlock_unlock(&m->lock);
	return ret;
}

static ssize_t mem_listattr(struct objstore *s, uint64_t id, char *buf,
			    size_t size, struct mixfs_err *err)
{
	struct mem_store *m = mem_of(s);
	struct mem_obj *o;
	size_t total = 0, i;
	ssize_t ret;

	pthread_rwlock_rdlock(&m->lock);
	o = obj_find(m, id);
	if (!o) {
		ret = no_object(id, err);
		goto out_unlock;
	}
	for (i = 0; i < o->nattrs; i++)
		total += strlen(o->attrs[i].name) + 1;
	ret = (ssize_t)total;
	if (size == 0)
		goto out_unlock;
	if (size < total) {
		ret = mixfs_err_set(err, -ERANGE,
			"attribute names need %zu bytes, buffer has %zu",
			total, size);
		goto out_unlock;
	}
	for (i = 0, total = 0; i < o->nattrs; i++) {
		size_t n = strlen(o->attrs[i].name) + 1;

		memcpy(buf + total, o->attrs[i].name, n);
		total += n;
	}
out_unlock:
	pthread_rwlock_unlock(&m->lock);
	return ret;
}

static int mem_statfs(struct objstore *s, struct objstore_statfs *st,
		      struct mixfs_err *err)
{
	struct mem_store *m = mem_of(s);

	(void)err;
	pthread_rwlock_rdlock(&m->lock);
	st->capacity = m->capacity;
	st->used = m->used;
	st->objects = m->nobjs;
	pthread_rwlock_unlock(&m->lock);
	return 0;
}

static int mem_sync(struct objstore *s, struct mixfs_err *err)
{
	(void)s;
	(void)err;
	return 0;
}

/* --- transactions --------------------------------------------------------- */

/* An object a transaction touches: what it was and what it becomes. */
struct txn_obj {
	uint64_t id;
	struct mem_obj *orig;	/* in the store, untouched; NULL if absent */
	struct mem_obj *cur;	/* working copy; NULL if absent after */
};

static struct txn_obj *txn_obj_get(struct mem_store *m, struct txn_obj *w,
				   size_t *nw, uint64_t id)
{
	size_t i;

	for (i = 0; i < *nw; i++)
		if (w[i].id == id)
			return &w[i];
	w[*nw].id = id;
	w[*nw].orig = obj_find(m, id);
	w[*nw].cur = w[*nw].orig ? obj_clone(w[*nw].orig) : NULL;
	if (w[*nw].orig && !w[*nw].cur)
		return NULL;
	return &w[(*nw)++];
}

static int txn_step(struct mem_store *m, struct txn_obj *w,
		    const struct objstore_step *st, struct budget *b,
		    uint64_t *next_id, struct mixfs_err *err)
{
	if (st->kind == OBJSTORE_STEP_CREATE) {
		if (w->cur)
			return mixfs_err_set(err, -EEXIST, "object %llu exists",
					     (unsigned long long)st->id);
		w->cur = obj_new(st->id);
		if (!w->cur)
			return mixfs_err_set(err, -ENOMEM, "out of memory");
		if (st->id != UINT64_MAX && st->id >= *next_id)
			*next_id = st->id + 1;
		return 0;
	}
	if (!w->cur)
		return no_object(st->id, err);
	switch (st->kind) {
	case OBJSTORE_STEP_REMOVE:
		*b->used -= obj_allocated(w->cur);
		obj_free(w->cur);
		w->cur = NULL;
		return 0;
	case OBJSTORE_STEP_WRITE:
		return obj_write(w->cur, st->off, st->buf, st->len, b, err);
	case OBJSTORE_STEP_TRUNCATE:
		return obj_truncate(w->cur, st->off, b, err);
	case OBJSTORE_STEP_SETATTR:
		return obj_setattr(w->cur, st->name, st->buf, st->len, err);
	case OBJSTORE_STEP_RMATTR:
		return obj_rmattr(w->cur, st->name, err);
	default:
		break;
	}
	(void)m;
	return mixfs_err_set(err, -EINVAL, "unknown transaction step");
}

static int mem_txn_commit(struct objstore *s, const struct objstore_txn *t,
			  struct mixfs_err *err)
{
	struct mem_store *m = mem_of(s);
	uint64_t used, next_id;
	struct budget b = { &used, m->capacity };
	struct txn_obj *w = calloc(t->nsteps, sizeof(*w));
	size_t nw = 0, i, created = 0;
	int ret = 0;

	if (!w)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	pthread_rwlock_wrlock(&m->lock);
	used = m->used;
	next_id = m->next_id;
	for (i = 0; i < t->nsteps && !ret; i++) {
		const struct objstore_step *st = &t->steps[i];
		struct txn_obj *o = txn_obj_get(m, w, &nw, st->id);

		ret = o ? txn_step(m, o, st, &b, &next_id, err) :
			mixfs_err_set(err, -ENOMEM, "out of memory");
		if (ret)
			mixfs_err_prefix(err, ret, "transaction step %zu", i + 1);
	}
	for (i = 0; i < nw && !ret; i++)
		created += !w[i].orig && w[i].cur;
	if (!ret && objs_reserve(m, created))
		ret = mixfs_err_set(err, -ENOMEM, "out of memory");
	if (ret)
		goto out_discard;
	/* Every step succeeded: swap the copies in. Nothing below fails. */
	for (i = 0; i < nw; i++) {
		if (w[i].orig)
			objs_unlink(m, w[i].id);
		if (w[i].cur) {
			objs_insert(m, w[i].cur);
			note_id_used(m, w[i].id);
		}
		obj_free(w[i].orig);
	}
	m->used = used;
	if (next_id > m->next_id)
		m->next_id = next_id;
	pthread_rwlock_unlock(&m->lock);
	free(w);
	return 0;
out_discard:
	for (i = 0; i < nw; i++)
		obj_free(w[i].cur);
	pthread_rwlock_unlock(&m->lock);
	free(w);
	return ret;
}

const struct objstore_ops objstore_mem_ops = {
	.version = 1,
	.scheme = "mem",
	.open = mem_store_open,
	.close = mem_close,
	.create = mem_create,
	.create_fresh = mem_create_fresh,
	.remove = mem_remove,
	.read = mem_read,
	.write = mem_write,
	.truncate = mem_truncate,
	.punch = mem_punch,
	.stat = mem_stat,
	.seek = mem_seek,
	.list = mem_list,
	.getattr = mem_getattr,
	.setattr = mem_setattr,
	.rmattr = mem_rmattr,
	.listattr = mem_listattr,
	.statfs = mem_statfs,
	.sync = mem_sync,
	.txn_commit = mem_txn_commit,
};
