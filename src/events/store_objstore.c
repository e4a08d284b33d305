/*
 * store_objstore.c - an event store in one object of an objstore store.
 *
 * Each kept event is one attribute of the object, named "e." followed by
 * its seq in 16 lowercase hex digits (so byte order is seq order), holding
 * the JSON line. The attribute "reserved" holds the sequence reservation
 * in decimal. Attributes suit a log of small records: an append is one
 * setattr, a trim removes attributes in one transaction, and no byte
 * offsets need managing. The object's data bytes are left unused.
 *
 * An index of the kept seqs lives in memory (read with listattr at open),
 * so a scan from any seq finds its starting point without listing again.
 * This store does not cache lines: a scan reads each one from the store.
 */
#include "events/internal.h"
#include "objstore/objstore.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct obj_store {
	struct evt_store store;		/* embedded anchor */
	struct objstore *os;
	uint64_t id;
	pthread_mutex_t lock;		/* protects the index below */
	uint64_t *seq;			/* kept seqs, ascending: seq[start..end) */
	size_t start, end, cap;
	uint64_t reserved;
};

static struct obj_store *obj_of(struct evt_store *s)
{
	return container_of(s, struct obj_store, store);
}

static void attr_name(uint64_t seq, char *buf)
{
	snprintf(buf, 20, "e.%016" PRIx64, seq);
}

/* Make room for one more seq at the end. Under lock. */
static int index_grow(struct obj_store *o)
{
	size_t cap;
	uint64_t *n;

	if (o->start > 0 && o->start * 2 >= o->end) {
		memmove(o->seq, o->seq + o->start,
			(o->end - o->start) * sizeof(*o->seq));
		o->end -= o->start;
		o->start = 0;
	}
	if (o->end < o->cap)
		return 0;
	cap = o->cap ? o->cap * 2 : 256;
	n = realloc(o->seq, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	o->seq = n;
	o->cap = cap;
	return 0;
}

static int obj_append(struct evt_store *s, uint64_t seq, const char *line,
		      size_t len, struct mixfs_err *err)
{
	struct obj_store *o = obj_of(s);
	char name[20];
	int rc;

	pthread_mutex_lock(&o->lock);
	rc = index_grow(o);
	pthread_mutex_unlock(&o->lock);
	if (rc)
		return mixfs_err_set(err, rc, "out of memory");
	attr_name(seq, name);
	rc = objstore_setattr(o->os, o->id, name, line, len, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&o->lock);
	rc = index_grow(o);	/* a trim may have moved things; room stays */
	if (rc == 0)
		o->seq[o->end++] = seq;
	pthread_mutex_unlock(&o->lock);
	return rc ? mixfs_err_set(err, rc, "out of memory") : 0;
}

static int obj_trim(struct evt_store *s, uint64_t below,
		    struct mixfs_err *err)
{
	struct obj_store *o = obj_of(s);
	struct objstore_txn *t = objstore_txn_new(o->os);
	size_t n = 0, first;
	char name[20];
	int rc = 0;

	if (!t)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	pthread_mutex_lock(&o->lock);
	first = o->start;
	while (first + n < o->end && o->seq[first + n] < below && rc == 0) {
		attr_name(o->seq[first + n], name);
		rc = objstore_txn_rmattr(t, o->id, name);
		n++;
	}
	pthread_mutex_unlock(&o->lock);
	if (rc == 0 && n)
		rc = objstore_txn_commit(t, err);
	objstore_txn_free(t);
	if (rc)
		return mixfs_err_set(err, rc, "trimming the event log failed");
	pthread_mutex_lock(&o->lock);
	while (o->start < o->end && o->seq[o->start] < below)
		o->start++;
	pthread_mutex_unlock(&o->lock);
	return 0;
}

/*
 * Whether a kept line is what this store wrote: one line ending in '\n'
 * and starting {"seq":SEQ, for its own number. A torn or damaged
 * attribute must not reach readers glued to the next line.
 */
static bool line_ok(const char *line, size_t len, uint64_t seq)
{
	char head[40];
	int n = snprintf(head, sizeof(head), "{\"seq\":%" PRIu64 ",", seq);

	return len > (size_t)n && line[len - 1] == '\n' &&
	       !memchr(line, '\n', len - 1) && !memcmp(line, head, (size_t)n);
}

static int obj_scan(struct evt_store *s, uint64_t from, evt_scan_fn fn,
		    void *arg, struct mixfs_err *err)
{
	struct obj_store *o = obj_of(s);
	char *line = malloc(EVT_LINE_MAX);
	uint64_t next = from;
	int rc = 0;

	if (!line)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	for (;;) {
		size_t lo, hi;
		uint64_t seq;
		char name[20];
		ssize_t len;

		pthread_mutex_lock(&o->lock);
		lo = o->start;
		hi = o->end;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (o->seq[mid] < next)
				lo = mid + 1;
			else
				hi = mid;
		}
		seq = lo < o->end ? o->seq[lo] : 0;
		pthread_mutex_unlock(&o->lock);
		if (!seq)
			break;
		attr_name(seq, name);
		len = objstore_getattr(o->os, o->id, name, line, EVT_LINE_MAX,
				       NULL);
		if (len == -ENODATA) {	/* trimmed meanwhile */
			next = seq + 1;
			continue;
		}
		if (len < 0) {
			rc = mixfs_err_set(err, (int)len,
				"reading event %" PRIu64 " from object %" PRIu64 ": %s",
				seq, o->id, strerror((int)-len));
			break;
		}
		if (!line_ok(line, (size_t)len, seq)) {
			next = seq + 1;	/* damaged: the reader sees a gap,
					 * reported as events_lost */
			continue;
		}
		if (fn(arg, seq, line, (size_t)len))
			break;
		next = seq + 1;
	}
	free(line);
	return rc;
}

static int obj_bounds(struct evt_store *s, uint64_t *first, uint64_t *last,
		      uint64_t *reserved, struct mixfs_err *err)
{
	struct obj_store *o = obj_of(s);

	(void)err;
	pthread_mutex_lock(&o->lock);
	*first = o->start < o->end ? o->seq[o->start] : 0;
	*last = o->start < o->end ? o->seq[o->end - 1] : 0;
	*reserved = o->reserved;
	pthread_mutex_unlock(&o->lock);
	return 0;
}

static int obj_reserve(struct evt_store *s, uint64_t upto,
		       struct mixfs_err *err)
{
	struct obj_store *o = obj_of(s);
	char val[24];
	int rc, n = snprintf(val, sizeof(val), "%" PRIu64, upto);

	rc = objstore_setattr(o->os, o->id, "reserved", val, (size_t)n, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&o->lock);
	o->reserved = upto;
	pthread_mutex_unlock(&o->lock);
	return 0;
}

static void obj_close(struct evt_store *s)
{
	struct obj_store *o = obj_of(s);

	pthread_mutex_destroy(&o->lock);
	free(o->seq);
	free(o);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Read the attribute names into the index and the reservation. */
static int load(struct obj_store *o, struct mixfs_err *err)
{
	char *names = NULL, val[24];
	ssize_t len, got;
	int rc = 0;

	len = objstore_listattr(o->os, o->id, NULL, 0, err);
	if (len < 0)
		return (int)len;
	names = malloc((size_t)len + 1);
	if (!names)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	got = len ? objstore_listattr(o->os, o->id, names, (size_t)len, err)
		  : 0;
	if (got < 0) {
		rc = (int)got;
		goto out_free;
	}
	for (ssize_t i = 0; i < got; i += (ssize_t)strlen(names + i) + 1) {
		const char *n = names + i;
		char *end;
		uint64_t seq;

		if (strcmp(n, "reserved") == 0)
			continue;
		seq = strncmp(n, "e.", 2) == 0 ? strtoull(n + 2, &end, 16) : 0;
		if (!seq || *end || strlen(n) != 18) {
			rc = mixfs_err_set(err, -EUCLEAN,
				"object %" PRIu64 " has attribute '%.64s', which no event log writes",
				o->id, n);
			goto out_free;
		}
		rc = index_grow(o);
		if (rc) {
			rc = mixfs_err_set(err, rc, "out of memory");
			goto out_free;
		}
		o->seq[o->end++] = seq;
	}
	if (o->end > 1)
		qsort(o->seq, o->end, sizeof(*o->seq), cmp_u64);
	len = objstore_getattr(o->os, o->id, "reserved", val, sizeof(val) - 1,
			       NULL);
	if (len >= 0) {
		char *end;

		val[len] = '\0';
		o->reserved = strtoull(val, &end, 10);
		if (*end || len == 0)
			rc = mixfs_err_set(err, -EUCLEAN,
				"event log object %" PRIu64 " has a malformed reservation '%s'",
				o->id, val);
	} else if (len != -ENODATA) {
		rc = mixfs_err_set(err, (int)len,
				   "reading the reservation of object %" PRIu64 ": %s",
				   o->id, strerror((int)-len));
	}
out_free:
	free(names);
	return rc;
}

static const struct evt_store_ops obj_ops;

int evt_store_objstore_open(struct objstore *os, uint64_t id, bool create,
			    struct evt_store **out, struct mixfs_err *err)
{
	struct obj_store *o;
	struct objstore_stat st;
	int rc;

	*out = NULL;
	rc = objstore_stat(os, id, &st, err);
	if (rc == -ENOENT && create) {
		mixfs_err_clear(err);
		rc = objstore_create(os, id, err);
	}
	if (rc)
		return mixfs_err_prefix(err, rc, "opening event log object %" PRIu64, id);
	o = calloc(1, sizeof(*o));
	if (!o)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	o->os = os;
	o->id = id;
	pthread_mutex_init(&o->lock, NULL);
	rc = load(o, err);
	if (rc) {
		obj_close(&o->store);
		return mixfs_err_prefix(err, rc, "reading event log object %" PRIu64, id);
	}
	o->store.ops = &obj_ops;
	*out = &o->store;
	return 0;
}

static const struct evt_store_ops obj_ops = {
	.version = 1,
	.append = obj_append,
	.trim = obj_trim,
	.scan = obj_scan,
	.bounds = obj_bounds,
	.reserve = obj_reserve,
	.close = obj_close,
};
