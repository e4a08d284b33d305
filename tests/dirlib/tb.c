/*
 * tb.c - the four test backings of tb.h. The RocksDB one does what tablefs
 * does (WriteBatchWithIndex, reads through the batch); the memory ones are
 * plain and obviously right, so that a disagreement points at the library.
 */
#include "tb.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "objstore/objstore.h"

#define TB_DIRS		8
#define TB_KV_PREFIX	'd'
#define TB_INO_BASE	100

const char *const tb_kind_name[TB_KINDS] = {
	"linear/mem", "linear/objstore", "kv/mem", "kv/rocksdb",
};

/* --- memory stream ------------------------------------------------------- */

static struct tb_memstream *ms_of(struct dir_stream *s)
{
	return container_of(s, struct tb_memstream, s);
}

static ssize_t ms_read(struct dir_stream *s, uint64_t off, void *buf,
		       size_t len)
{
	struct tb_memstream *m = ms_of(s);

	if (off >= m->size)
		return 0;
	if (len > m->size - off)
		len = m->size - off;
	memcpy(buf, m->buf + off, len);
	return (ssize_t)len;
}

static int ms_write(struct dir_stream *s, uint64_t off, const void *buf,
		    size_t len)
{
	struct tb_memstream *m = ms_of(s);

	if (++m->writes == m->fail_at)
		return -EIO;
	if (off + len > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;
		unsigned char *b;

		while (cap < off + len)
			cap *= 2;
		b = realloc(m->buf, cap);
		if (!b)
			return -ENOMEM;
		memset(b + m->cap, 0, cap - m->cap);
		m->buf = b;
		m->cap = cap;
	}
	if (off > m->size)
		memset(m->buf + m->size, 0, off - m->size);
	memcpy(m->buf + off, buf, len);
	if (off + len > m->size)
		m->size = off + len;
	return 0;
}

static int ms_size(struct dir_stream *s, uint64_t *size)
{
	*size = ms_of(s)->size;
	return 0;
}

static int ms_truncate(struct dir_stream *s, uint64_t size)
{
	struct tb_memstream *m = ms_of(s);

	if (size < m->size)
		m->size = size;
	return 0;
}

static const struct dir_stream_ops ms_ops = {
	.read = ms_read,
	.write = ms_write,
	.size = ms_size,
	.truncate = ms_truncate,
};

void tb_memstream_init(struct tb_memstream *m, uint32_t block_size)
{
	memset(m, 0, sizeof(*m));
	m->s.ops = &ms_ops;
	m->s.block_size = block_size;
}

void tb_memstream_set(struct tb_memstream *m, const void *buf, size_t len)
{
	m->size = 0;
	dir_stream_release(&m->s);
	if (len)
		ms_write(&m->s, 0, buf, len);
}

void tb_memstream_release(struct tb_memstream *m)
{
	dir_stream_release(&m->s);
	free(m->buf);
	m->buf = NULL;
	m->size = m->cap = 0;
}

/* --- objstore stream ----------------------------------------------------- */

struct objstream {
	struct dir_stream s;
	struct objstore *os;
	uint64_t id;
};

static struct objstream *os_of(struct dir_stream *s)
{
	return container_of(s, struct objstream, s);
}

static ssize_t os_read(struct dir_stream *s, uint64_t off, void *buf,
		       size_t len)
{
	return objstore_read(os_of(s)->os, os_of(s)->id, off, buf, len, NULL);
}

static int os_write(struct dir_stream *s, uint64_t off, const void *buf,
		    size_t len)
{
	return objstore_write(os_of(s)->os, os_of(s)->id, off, buf, len, NULL);
}

static int os_size(struct dir_stream *s, uint64_t *size)
{
	struct objstore_stat st;
	int ret = objstore_stat(os_of(s)->os, os_of(s)->id, &st, NULL);

	if (!ret)
		*size = st.size;
	return ret;
}

static int os_truncate(struct dir_stream *s, uint64_t size)
{
	return objstore_truncate(os_of(s)->os, os_of(s)->id, size, NULL);
}

static const struct dir_stream_ops os_ops = {
	.read = os_read,
	.write = os_write,
	.size = os_size,
	.truncate = os_truncate,
};

/* --- memory kv ------------------------------------------------------------ */

struct kvent {
	unsigned char *k, *v;
	size_t kl, vl;
};

struct memkv {
	struct dir_kv kv;
	struct kvent *e;
	size_t n, cap;
};

static int keycmp(const void *a, size_t al, const void *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c ? c : (al > bl) - (al < bl);
}

/* First index with key >= @k. */
static size_t mk_lower(const struct memkv *m, const void *k, size_t kl)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (keycmp(m->e[mid].k, m->e[mid].kl, k, kl) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct memkv *mk_of(struct dir_kv *kv)
{
	return container_of(kv, struct memkv, kv);
}

static int mk_get(struct dir_kv *kv, const void *key, size_t klen,
		  void *val, size_t cap, size_t *len)
{
	struct memkv *m = mk_of(kv);
	size_t i = mk_lower(m, key, klen);

	if (i == m->n || keycmp(m->e[i].k, m->e[i].kl, key, klen))
		return -ENOENT;
	*len = m->e[i].vl;
	if (*len > cap)
		return -ERANGE;
	memcpy(val, m->e[i].v, *len);
	return 0;
}

static void *memdup(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);

	if (q)
		memcpy(q, p, n);
	return q;
}

static int mk_put(struct dir_kv *kv, const void *key, size_t klen,
		  const void *val, size_t vlen)
{
	struct memkv *m = mk_of(kv);
	size_t i = mk_lower(m, key, klen);
	unsigned char *v = memdup(val, vlen), *k;

	if (!v)
		return -ENOMEM;
	if (i < m->n && !keycmp(m->e[i].k, m->e[i].kl, key, klen)) {
		free(m->e[i].v);
		m->e[i].v = v;
		m->e[i].vl = vlen;
		return 0;
	}
	k = memdup(key, klen);
	if (!k)
		abort();
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->e = realloc(m->e, m->cap * sizeof(*m->e));
		if (!m->e)
			abort();
	}
	memmove(m->e + i + 1, m->e + i, (m->n - i) * sizeof(*m->e));
	m->e[i] = (struct kvent){ .k = k, .kl = klen, .v = v, .vl = vlen };
	m->n++;
	return 0;
}

static int mk_del(struct dir_kv *kv, const void *key, size_t klen)
{
	struct memkv *m = mk_of(kv);
	size_t i = mk_lower(m, key, klen);

	if (i == m->n || keycmp(m->e[i].k, m->e[i].kl, key, klen))
		return 0;
	free(m->e[i].k);
	free(m->e[i].v);
	memmove(m->e + i, m->e + i + 1, (m->n - i - 1) * sizeof(*m->e));
	m->n--;
	return 0;
}

static int mk_scan(struct dir_kv *kv, const void *prefix, size_t plen,
		   const void *from, size_t flen,
		   int (*fn)(void *arg, const void *key, size_t klen,
			     const void *val, size_t vlen),
		   void *arg)
{
	struct memkv *m = mk_of(kv);

	for (size_t i = mk_lower(m, from, flen); i < m->n; i++) {
		int ret;

		if (m->e[i].kl < plen || memcmp(m->e[i].k, prefix, plen))
			break;
		ret = fn(arg, m->e[i].k, m->e[i].kl, m->e[i].v, m->e[i].vl);
		if (ret)
			return ret;
	}
	return 0;
}

static const struct dir_kv_ops mk_ops = {
	.get = mk_get, .put = mk_put, .del = mk_del, .scan = mk_scan,
};

/* --- RocksDB kv (WriteBatchWithIndex) ------------------------------------- */

struct rdbkv {
	struct dir_kv kv;
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_readoptions_t *ro;
	rocksdb_writeoptions_t *wo;
	rocksdb_writebatch_wi_t *wb;
	char path[64];
};

static struct rdbkv *rk_of(struct dir_kv *kv)
{
	return container_of(kv, struct rdbkv, kv);
}

static int rk_get(struct dir_kv *kv, const void *key, size_t klen,
		  void *val, size_t cap, size_t *len)
{
	struct rdbkv *r = rk_of(kv);
	char *errstr = NULL;
	char *v = rocksdb_writebatch_wi_get_from_batch_and_db(r->wb, r->db,
				r->ro, key, klen, len, &errstr);

	if (errstr) {
		rocksdb_free(errstr);
		return -EIO;
	}
	if (!v)
		return -ENOENT;
	if (*len > cap) {
		rocksdb_free(v);
		return -ERANGE;
	}
	memcpy(val, v, *len);
	rocksdb_free(v);
	return 0;
}

static int rk_put(struct dir_kv *kv, const void *key, size_t klen,
		  const void *val, size_t vlen)
{
	rocksdb_writebatch_wi_put(rk_of(kv)->wb, key, klen, val, vlen);
	return 0;
}

static int rk_del(struct dir_kv *kv, const void *key, size_t klen)
{
	rocksdb_writebatch_wi_delete(rk_of(kv)->wb, key, klen);
	return 0;
}

static int rk_scan(struct dir_kv *kv, const void *prefix, size_t plen,
		   const void *from, size_t flen,
		   int (*fn)(void *arg, const void *key, size_t klen,
			     const void *val, size_t vlen),
		   void *arg)
{
	struct rdbkv *r = rk_of(kv);
	rocksdb_iterator_t *it = rocksdb_writebatch_wi_create_iterator_with_base(
		r->wb, rocksdb_create_iterator(r->db, r->ro));
	char *errstr = NULL;
	int ret = 0;

	for (rocksdb_iter_seek(it, from, flen); !ret && rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t kl, vl;
		const char *k = rocksdb_iter_key(it, &kl);
		const char *v;

		if (kl < plen || memcmp(k, prefix, plen))
			break;
		v = rocksdb_iter_value(it, &vl);
		ret = fn(arg, k, kl, v, vl);
	}
	rocksdb_iter_get_error(it, &errstr);
	if (errstr) {
		rocksdb_free(errstr);
		if (!ret)
			ret = -EIO;
	}
	rocksdb_iter_destroy(it);
	return ret;
}

static const struct dir_kv_ops rk_ops = {
	.get = rk_get, .put = rk_put, .del = rk_del, .scan = rk_scan,
};

static void rk_commit(struct rdbkv *r)
{
	char *errstr = NULL;

	rocksdb_write_writebatch_wi(r->db, r->wo, r->wb, &errstr);
	if (errstr) {
		fprintf(stderr, "rocksdb write: %s\n", errstr);
		abort();
	}
	rocksdb_writebatch_wi_clear(r->wb);
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* --- The backing ---------------------------------------------------------- */

struct tb {
	enum tb_kind kind;
	struct tb_memstream ms[TB_DIRS];
	struct objstream obs[TB_DIRS];
	struct objstore *os;
	struct memkv mk;
	struct rdbkv rk;
};

static struct dir_kv *tb_kv(struct tb *t)
{
	return t->kind == TB_KV_MEM ? &t->mk.kv : &t->rk.kv;
}

/* Records of other kinds around the directory keys: the library must
 * neither see nor touch them. */
static void put_neighbours(struct dir_kv *kv)
{
	static const unsigned char below[] = { TB_KV_PREFIX - 1, 0xff, 0xff };
	static const unsigned char above[] = { TB_KV_PREFIX + 1, 0, 0, 0 };
	static const unsigned char other[] = { TB_KV_PREFIX, 0, 0, 0, 0, 0, 0,
					       0, TB_INO_BASE + TB_DIRS, 'H' };

	kv->ops->put(kv, below, sizeof(below), "x", 1);
	kv->ops->put(kv, above, sizeof(above), "y", 1);
	kv->ops->put(kv, other, sizeof(other), "z", 1);
}

struct tb *tb_open(enum tb_kind kind)
{
	struct tb *t = calloc(1, sizeof(*t));
	struct mixfs_err err = { 0 };
	char *errstr = NULL;

	if (!t)
		abort();
	t->kind = kind;
	switch (kind) {
	case TB_LINEAR_MEM:
		for (int i = 0; i < TB_DIRS; i++)
			tb_memstream_init(&t->ms[i], 0);
		break;
	case TB_LINEAR_OBJ:
		if (objstore_open("mem:", OBJSTORE_OPEN_CREATE, &t->os, &err)) {
			fprintf(stderr, "objstore mem: %s\n", err.msg);
			abort();
		}
		for (int i = 0; i < TB_DIRS; i++) {
			t->obs[i].s.ops = &os_ops;
			t->obs[i].os = t->os;
			t->obs[i].id = TB_INO_BASE + i;
			if (objstore_create(t->os, t->obs[i].id, &err))
				abort();
		}
		break;
	case TB_KV_MEM:
		t->mk.kv.ops = &mk_ops;
		t->mk.kv.prefix = TB_KV_PREFIX;
		put_neighbours(&t->mk.kv);
		break;
	case TB_KV_ROCKSDB:
		strcpy(t->rk.path, "/tmp/mixfs-dirlib-XXXXXX");
		if (!mkdtemp(t->rk.path))
			abort();
		t->rk.opts = rocksdb_options_create();
		rocksdb_options_set_create_if_missing(t->rk.opts, 1);
		t->rk.db = rocksdb_open(t->rk.opts, t->rk.path, &errstr);
		if (errstr) {
			fprintf(stderr, "rocksdb open: %s\n", errstr);
			abort();
		}
		t->rk.ro = rocksdb_readoptions_create();
		t->rk.wo = rocksdb_writeoptions_create();
		rocksdb_writeoptions_disable_WAL(t->rk.wo, 1);
		t->rk.wb = rocksdb_writebatch_wi_create(0, 1);
		t->rk.kv.ops = &rk_ops;
		t->rk.kv.prefix = TB_KV_PREFIX;
		put_neighbours(&t->rk.kv);
		rk_commit(&t->rk);
		break;
	default:
		abort();
	}
	return t;
}

void tb_close(struct tb *t)
{
	if (!t)
		return;
	switch (t->kind) {
	case TB_LINEAR_MEM:
		for (int i = 0; i < TB_DIRS; i++)
			tb_memstream_release(&t->ms[i]);
		break;
	case TB_LINEAR_OBJ:
		for (int i = 0; i < TB_DIRS; i++)
			dir_stream_release(&t->obs[i].s);
		objstore_close(t->os);
		break;
	case TB_KV_MEM:
		for (size_t i = 0; i < t->mk.n; i++) {
			free(t->mk.e[i].k);
			free(t->mk.e[i].v);
		}
		free(t->mk.e);
		break;
	case TB_KV_ROCKSDB:
		rocksdb_writebatch_wi_destroy(t->rk.wb);
		rocksdb_close(t->rk.db);
		rocksdb_readoptions_destroy(t->rk.ro);
		rocksdb_writeoptions_destroy(t->rk.wo);
		rocksdb_options_destroy(t->rk.opts);
		nftw(t->rk.path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		break;
	default:
		break;
	}
	free(t);
}

bool tb_is_linear(const struct tb *t)
{
	return t->kind == TB_LINEAR_MEM || t->kind == TB_LINEAR_OBJ;
}

struct dir_stream *tb_stream(struct tb *t, unsigned n)
{
	if (n >= TB_DIRS || !tb_is_linear(t))
		abort();
	return t->kind == TB_LINEAR_MEM ? &t->ms[n].s : &t->obs[n].s;
}

int tb_create(struct tb *t, unsigned n, unsigned opts, struct dir *d,
	      struct mixfs_err *err)
{
	int ret;

	if (tb_is_linear(t))
		ret = dir_linear_create(tb_stream(t, n), opts, err);
	else
		ret = dir_kv_create(tb_kv(t), TB_INO_BASE + n, opts, err);
	if (ret)
		return ret;
	return tb_init(t, n, d, err);
}

int tb_init(struct tb *t, unsigned n, struct dir *d, struct mixfs_err *err)
{
	if (tb_is_linear(t))
		return dir_linear_init(d, tb_stream(t, n), err);
	return dir_kv_init(d, tb_kv(t), TB_INO_BASE + n, err);
}

void tb_commit(struct tb *t, bool cold)
{
	if (t->kind == TB_KV_ROCKSDB)
		rk_commit(&t->rk);
	if (cold && tb_is_linear(t))
		for (int i = 0; i < TB_DIRS; i++)
			dir_stream_release(tb_stream(t, i));
}

void tb_abort(struct tb *t)
{
	if (t->kind != TB_KV_ROCKSDB)
		abort();
	rocksdb_writebatch_wi_clear(t->rk.wb);
}

unsigned tb_fail_write(struct tb *t, unsigned n)
{
	unsigned made = 0;

	if (t->kind != TB_LINEAR_MEM)
		abort();
	for (int i = 0; i < TB_DIRS; i++) {
		made += t->ms[i].writes;
		t->ms[i].writes = 0;
		t->ms[i].fail_at = 0;
	}
	t->ms[0].fail_at = n;
	return made;
}

unsigned char *tb_bytes(struct tb *t, unsigned n, size_t *size)
{
	if (t->kind != TB_LINEAR_MEM || n >= TB_DIRS)
		abort();
	*size = t->ms[n].size;
	return t->ms[n].buf;
}

static int count_key(void *arg, const void *key, size_t klen,
		     const void *val, size_t vlen)
{
	(void)key; (void)klen; (void)val; (void)vlen;
	++*(size_t *)arg;
	return 0;
}

size_t tb_kv_keys(struct tb *t, unsigned n)
{
	unsigned char p[9];
	uint64_t ino = TB_INO_BASE + n;
	size_t count = 0;

	if (tb_is_linear(t))
		abort();
	p[0] = TB_KV_PREFIX;
	for (int i = 8; i >= 1; i--, ino >>= 8)
		p[i] = (unsigned char)ino;
	tb_kv(t)->ops->scan(tb_kv(t), p, sizeof(p), p, sizeof(p), count_key,
			    &count);
	return count;
}

/* --- Seeds ---------------------------------------------------------------- */

uint64_t tb_seed(const char *test)
{
	const char *e = getenv("MIXFS_SEED");
	uint64_t seed;

	if (e && *e)
		seed = strtoull(e, NULL, 0);
	else
		seed = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
	fprintf(stderr, "# %s: MIXFS_SEED=%llu\n", test,
		(unsigned long long)seed);
	return seed;
}

/* splitmix64 */
uint64_t tb_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

bool tb_long(void)
{
	const char *e = getenv("MIXFS_LONG");

	return e && !strcmp(e, "1");
}
