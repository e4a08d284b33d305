/*
 * objstore.c - the front of the object-store library: URI dispatch, the
 * argument checks every backend shares, and transactions.
 *
 * It deliberately does no caching, locking or I/O of its own: each call
 * checks its arguments and goes straight to the backend's ops table.
 */
#include "objstore/backend.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct objstore_ops *const backends[] = {
	&objstore_mem_ops,
	&objstore_dir_ops,
	&objstore_rocksdb_ops,
	&objstore_faulty_ops,
	&objstore_cache_ops,
#ifdef MIXFS_HAVE_RADOS
	&objstore_rados_ops,
#endif
};

int objstore_open(const char *uri, unsigned flags, struct objstore **out,
		  struct mixfs_err *err)
{
	const char *colon;
	size_t i, n;
	int ret;

	*out = NULL;
	if (!uri || !(colon = strchr(uri, ':')))
		return mixfs_err_set(err, -EINVAL,
			"store URI '%s' has no scheme (try rocksdb:PATH or mem:)",
			uri ? uri : "(null)");
	n = (size_t)(colon - uri);
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		const struct objstore_ops *ops = backends[i];

		if (strlen(ops->scheme) != n || memcmp(ops->scheme, uri, n))
			continue;
		ret = ops->open(colon + 1, flags, out, err);
		if (ret < 0) {
			*out = NULL;
			return ret;
		}
		(*out)->open_flags = flags;
		return 0;
	}
	if (n == 5 && !memcmp(uri, "rados", 5))
		return mixfs_err_set(err, -ENOTSUP,
			"this build of mixfs has no rados: backend (librados "
			"was not found when it was built)");
	return mixfs_err_set(err, -EINVAL,
		"unknown store scheme '%.*s' in '%s' (known: mem, dir, rocksdb, "
		"faulty, cache, rados)", (int)n, uri, uri);
}

int objstore_close(struct objstore *s)
{
	if (!s)
		return 0;
	return s->ops->close(s);
}

void objstore_info(const struct objstore *s, struct objstore_info *info)
{
	info->backend = s->ops->scheme;
	memcpy(info->uuid, s->uuid, sizeof(info->uuid));
	info->format_version = s->format_version;
	info->caps = s->caps;
}

/* --- argument checks shared by all backends ----------------------------- */

static int check_id(uint64_t id, struct mixfs_err *err)
{
	if (id == 0)
		return mixfs_err_set(err, -EINVAL, "object id 0 is reserved");
	return 0;
}

static int check_range(uint64_t off, uint64_t len, struct mixfs_err *err)
{
	if (off > OBJSTORE_MAX_SIZE || len > OBJSTORE_MAX_SIZE - off)
		return mixfs_err_set(err, -EFBIG,
			"range at %llu length %llu is past the largest object size",
			(unsigned long long)off, (unsigned long long)len);
	return 0;
}

static int check_writable(const struct objstore *s, struct mixfs_err *err)
{
	if (s->open_flags & OBJSTORE_OPEN_READONLY)
		return mixfs_err_set(err, -EROFS, "store is open read-only");
	return 0;
}

static int check_attr_name(const char *name, struct mixfs_err *err)
{
	size_t n;

	if (!name || !name[0])
		return mixfs_err_set(err, -EINVAL, "empty attribute name");
	n = strlen(name);
	if (n > OBJSTORE_ATTR_NAME_MAX)
		return mixfs_err_set(err, -ENAMETOOLONG,
			"attribute name of %zu bytes (at most %d)", n,
			OBJSTORE_ATTR_NAME_MAX);
	return 0;
}

static int check_attr_val(size_t len, struct mixfs_err *err)
{
	if (len > OBJSTORE_ATTR_MAX)
		return mixfs_err_set(err, -E2BIG,
			"attribute value of %zu bytes (at most %d)", len,
			OBJSTORE_ATTR_MAX);
	return 0;
}

/* --- objects ------------------------------------------------------------ */

int objstore_create(struct objstore *s, uint64_t id, struct mixfs_err *err)
{
	int ret = check_id(id, err);

	if (!ret)
		ret = check_writable(s, err);
	return ret ? ret : s->ops->create(s, id, err);
}

int objstore_create_fresh(struct objstore *s, uint64_t *id,
			  struct mixfs_err *err)
{
	int ret = check_writable(s, err);

	return ret ? ret : s->ops->create_fresh(s, id, err);
}

int objstore_remove(struct objstore *s, uint64_t id, struct mixfs_err *err)
{
	int ret = check_id(id, err);

	if (!ret)
		ret = check_writable(s, err);
	return ret ? ret : s->ops->remove(s, id, err);
}

ssize_t objstore_read(struct objstore *s, uint64_t id, uint64_t off,
		      void *buf, size_t len, struct mixfs_err *err)
{
	int ret = check_id(id, err);

	if (!ret && off >= OBJSTORE_MAX_SIZE)
		return 0;	/* nothing can exist there: read at EOF */
	if (!ret && len > OBJSTORE_MAX_SIZE - off)
		len = (size_t)(OBJSTORE_MAX_SIZE - off);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	return ret ? ret : s->ops->read(s, id, off, buf, len, err);
}

int objstore_write(struct objstore *s, uint64_t id, uint64_t off,
		   const void *buf, size_t len, struct mixfs_err *err)
{
	int ret = check_id(id, err);

	if (!ret)
		ret = check_range(off, len, err);
	if (!ret)
		ret = check_writable(s, err);
	return ret ? ret : s->ops->write(s, id, off, buf, len, err);
}

int objstore_truncate(struct objstore *s, uint64_t id, uint64_t size,
		      struct mixfs_err *err)
{
	int ret = check_id(id, err);

	if (!ret)
		ret = check_range(size, 0, err);
	if (!ret)
		ret = check_writable(s, err);
	return ret ? ret : s->ops->truncate(s, id, size, err);
}

int objstore_punch(struct objstore *s, uint64_t id, uint64_t off,
		   uint64_t len, struct mixfs_err *err)
{
	static const char zeros[65536];
	struct objstore_stat st;
	uint64_t end;
	int ret = check_id(id, err);

	if (!ret)
		ret = check_range(off, len, err);
	if (!ret)
		ret = check_writable(s, err);
	if (ret)
		return ret;
	if (s->ops->punch)
		return s->ops->punch(s, id, off, len, err);
	/* Fallback: zero the part inside the object, keep the size. */
	ret = s->ops->stat(s, id, &st, err);
	if (ret)
		return ret;
	end = off + len < st.size ? off + len : st.size;
	while (off < end) {
		size_t n = end - off < sizeof(zeros) ? end - off : sizeof(zeros);

		ret = s->ops->write(s, id, off, zeros, n, err);
		if (ret)
			return ret;
		off += n;
	}
	return 0;
}

int objstore_stat(struct objstore *s, uint64_t id, struct objstore_stat *st,
		  struct mixfs_err *err)
{
	int ret = check_id(id, err);

	return ret ? ret : s->ops->stat(s, id, st, err);
}

int objstore_seek(struct objstore *s, uint64_t id, uint64_t off, int whence,
		  uint64_t *out, struct mixfs_err *err)
{
	struct objstore_stat st;
	int ret = check_id(id, err);

	if (ret)
		return ret;
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return mixfs_err_set(err, -EINVAL,
				     "seek: whence %d is neither SEEK_DATA "
				     "nor SEEK_HOLE", whence);
	if (s->ops->seek)
		return s->ops->seek(s, id, off, whence, out, err);
	/* Fallback: the whole object is data. */
	ret = s->ops->stat(s, id, &st, err);
	if (ret)
		return ret;
	if (off >= st.size)
		return -ENXIO;
	*out = whence == SEEK_DATA ? off : st.size;
	return 0;
}

int objstore_list(struct objstore *s, uint64_t *cursor, uint64_t *ids,
		  size_t max, size_t *n, struct mixfs_err *err)
{
	*n = 0;
	if (max == 0)
		return mixfs_err_set(err, -EINVAL, "list with room for 0 ids");
	return s->ops->list(s, cursor, ids, max, n, err);
}

/* --- attributes --------------------------------------------------------- */

ssize_t objstore_getattr(struct objstore *s, uint64_t id, const char *name,
			 void *buf, size_t size, struct mixfs_err *err)
{
	int ret = check_id(id, err);

	if (!ret)
		ret = check_attr_name(name, err);
	return ret ? ret : s->ops->getattr(s, id, name, buf, size, err);
}

int objstore_setattr(struct objstore *s, uint64_t id, const char *name,
		     const void *val, size_t len, struct mixfs_err *err)
{
	int ret = check_id(id, err);

	if (!ret)
		ret = check_attr_name(name, err);
	if (!ret)
		ret = check_attr_val(len, err);
	if (!ret)
		ret = check_writable(s, err);
	return ret ? ret : s->ops->setattr(s, id, name, val, len, err);
}

int objstore_rmattr(struct objstore *s, uint64_t id, const char *name,
		    struct mixfs_err *err)
{
	int ret = check_id(id, err);

	if (!ret)
		ret = check_attr_name(name, err);
	if (!ret)
		ret = check_writable(s, err);
	return ret ? ret : s->ops->rmattr(s, id, name, err);
}

ssize_t objstore_listattr(struct objstore *s, uint64_t id, char *buf,
			  size_t size, struct mixfs_err *err)
{
	int ret = check_id(id, err);

	return ret ? ret : s->ops->listattr(s, id, buf, size, err);
}

/* --- whole store -------------------------------------------------------- */

int objstore_statfs(struct objstore *s, struct objstore_statfs *st,
		    struct mixfs_err *err)
{
	return s->ops->statfs(s, st, err);
}

int objstore_sync(struct objstore *s, struct mixfs_err *err)
{
	return s->ops->sync(s, err);
}

/* --- transactions ------------------------------------------------------- */

struct objstore_txn *objstore_txn_new(struct objstore *s)
{
	struct objstore_txn *t = calloc(1, sizeof(*t));

	if (t)
		t->store = s;
	return t;
}

static struct objstore_step *txn_add(struct objstore_txn *t)
{
	if (t->nsteps == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct objstore_step *p = realloc(t->steps, cap * sizeof(*p));

		if (!p)
			return NULL;
		t->steps = p;
		t->cap = cap;
	}
	memset(&t->steps[t->nsteps], 0, sizeof(t->steps[0]));
	return &t->steps[t->nsteps];
}

/* Fill a step's copies; on failure frees them and adds nothing. */
static int txn_push(struct objstore_txn *t, enum objstore_step_kind kind,
		    uint64_t id, uint64_t off, const char *name,
		    const void *buf, size_t len)
{
	struct objstore_step *st;

	if (id == 0)
		return -EINVAL;
	st = txn_add(t);
	if (!st)
		return -ENOMEM;
	st->kind = kind;
	st->id = id;
	st->off = off;
	st->len = len;
	if (name && !(st->name = strdup(name)))
		return -ENOMEM;
	if (buf && len) {
		st->buf = malloc(len);
		if (!st->buf) {
			free(st->name);
			return -ENOMEM;
		}
		memcpy(st->buf, buf, len);
	}
	t->nsteps++;
	return 0;
}

int objstore_txn_create(struct objstore_txn *t, uint64_t id)
{
	return txn_push(t, OBJSTORE_STEP_CREATE, id, 0, NULL, NULL, 0);
}

int objstore_txn_remove(struct objstore_txn *t, uint64_t id)
{
	return txn_push(t, OBJSTORE_STEP_REMOVE, id, 0, NULL, NULL, 0);
}

int objstore_txn_write(struct objstore_txn *t, uint64_t id, uint64_t off,
		       const void *buf, size_t len)
{
	if (check_range(off, len, NULL))
		return -EFBIG;
	return txn_push(t, OBJSTORE_STEP_WRITE, id, off, NULL, buf, len);
}

int objstore_txn_truncate(struct objstore_txn *t, uint64_t id, uint64_t size)
{
	if (check_range(size, 0, NULL))
		return -EFBIG;
	return txn_push(t, OBJSTORE_STEP_TRUNCATE, id, size, NULL, NULL, 0);
}

int objstore_txn_setattr(struct objstore_txn *t, uint64_t id, const char *name,
			 const void *val, size_t len)
{
	int ret = check_attr_name(name, NULL);

	if (!ret)
		ret = check_attr_val(len, NULL);
	return ret ? ret :
		txn_push(t, OBJSTORE_STEP_SETATTR, id, 0, name, val, len);
}

int objstore_txn_rmattr(struct objstore_txn *t, uint64_t id, const char *name)
{
	int ret = check_attr_name(name, NULL);

	return ret ? ret :
		txn_push(t, OBJSTORE_STEP_RMATTR, id, 0, name, NULL, 0);
}

size_t objstore_txn_steps(const struct objstore_txn *t)
{
	return t->nsteps;
}

int objstore_txn_apply_steps(struct objstore *s, const struct objstore_txn *t,
			     struct mixfs_err *err)
{
	const struct objstore_ops *ops = s->ops;
	size_t i;
	int ret = 0;

	for (i = 0; i < t->nsteps && !ret; i++) {
		const struct objstore_step *st = &t->steps[i];

		switch (st->kind) {
		case OBJSTORE_STEP_CREATE:
			ret = ops->create(s, st->id, err);
			break;
		case OBJSTORE_STEP_REMOVE:
			ret = ops->remove(s, st->id, err);
			break;
		case OBJSTORE_STEP_WRITE:
			ret = ops->write(s, st->id, st->off, st->buf, st->len,
					 err);
			break;
		case OBJSTORE_STEP_TRUNCATE:
			ret = ops->truncate(s, st->id, st->off, err);
			break;
		case OBJSTORE_STEP_SETATTR:
			ret = ops->setattr(s, st->id, st->name, st->buf,
					   st->len, err);
			break;
		case OBJSTORE_STEP_RMATTR:
			ret = ops->rmattr(s, st->id, st->name, err);
			break;
		}
		if (ret)
			mixfs_err_prefix(err, ret, "transaction step %zu", i + 1);
	}
	return ret;
}

int objstore_txn_copy(struct objstore_txn *to, const struct objstore_txn *t)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < t->nsteps && !ret; i++) {
		const struct objstore_step *st = &t->steps[i];

		switch (st->kind) {
		case OBJSTORE_STEP_CREATE:
			ret = objstore_txn_create(to, st->id);
			break;
		case OBJSTORE_STEP_REMOVE:
			ret = objstore_txn_remove(to, st->id);
			break;
		case OBJSTORE_STEP_WRITE:
			ret = objstore_txn_write(to, st->id, st->off, st->buf,
						 st->len);
			break;
		case OBJSTORE_STEP_TRUNCATE:
			ret = objstore_txn_truncate(to, st->id, st->off);
			break;
		case OBJSTORE_STEP_SETATTR:
			ret = objstore_txn_setattr(to, st->id, st->name,
						   st->buf, st->len);
			break;
		case OBJSTORE_STEP_RMATTR:
			ret = objstore_txn_rmattr(to, st->id, st->name);
			break;
		}
	}
	return ret;
}

int objstore_txn_commit(struct objstore_txn *t, struct mixfs_err *err)
{
	struct objstore *s = t->store;
	int ret = check_writable(s, err);

	if (ret)
		return ret;
	if (t->nsteps == 0)
		return 0;
	if (s->ops->txn_commit)
		return s->ops->txn_commit(s, t, err);
	return objstore_txn_apply_steps(s, t, err);
}

void objstore_txn_free(struct objstore_txn *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nsteps; i++) {
		free(t->steps[i].name);
		free(t->steps[i].buf);
	}
	free(t->steps);
	free(t);
}

/* --- helpers ------------------------------------------------------------ */

int objstore_parse_size(const char *text, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!text || !*text || *text == '-' || *text == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	case '\0': break;
	default: return -EINVAL;
	}
	if (*end == 'i' || *end == 'B') {	/* accept KiB, KB, K */
		if (*end == 'i')
			end++;
		if (*end == 'B')
			end++;
	}
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int objstore_uri_split(const char *rest, char **path, const char **query)
{
	const char *q = strchr(rest, '?');
	size_t n = q ? (size_t)(q - rest) : strlen(rest);

	*path = strndup(rest, n);
	if (!*path)
		return -ENOMEM;
	*query = q ? q + 1 : "";
	return 0;
}

int objstore_uri_param(const char *query, const char *key, char *val,
		       size_t cap)
{
	size_t klen = strlen(key);
	const char *p = query;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);

		if (n > klen && !memcmp(p, key, klen) && p[klen] == '=') {
			size_t vlen = n - klen - 1;

			if (vlen + 1 > cap)
				return -EINVAL;
			memcpy(val, p + klen + 1, vlen);
			val[vlen] = '\0';
			return 1;
		}
		p = amp ? amp + 1 : NULL;
	}
	return 0;
}

int objstore_uri_check_keys(const char *query, const char *const *known,
			    struct mixfs_err *err)
{
	const char *p = query;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		size_t klen = eq ? (size_t)(eq - p) : n;
		const char *const *k;
		int found = 0;

		for (k = known; *k; k++)
			if (strlen(*k) == klen && !memcmp(*k, p, klen))
				found = 1;
		if (!found || !eq)
			return mixfs_err_set(err, -EINVAL,
				"%s store parameter '%.*s'",
				found ? "malformed" : "unknown", (int)n, p);
		p = amp ? amp + 1 : NULL;
	}
	return 0;
}
