/*
 * store_mem.c - an event store in memory.
 *
 * For tests and for drivers with nothing persistent to keep events in. It
 * outlives the instance that writes to it (evt_close() leaves it alone), so
 * a test can close an instance, open a new one on the same store and see
 * the sequence continue, as after a remount. It does not survive the
 * process.
 *
 * Events are appended in ascending seq, so they sit in one array in order;
 * trimming advances a start index and compacts when half the array is dead.
 */
#include "events/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct mem_event {
	uint64_t seq;
	char *line;
	size_t len;
};

struct mem_store {
	struct evt_store store;		/* embedded anchor */
	pthread_mutex_t lock;		/* protects everything below */
	struct mem_event *ev;
	size_t start, end, cap;		/* live events are ev[start..end) */
	uint64_t reserved;
};

static struct mem_store *mem_of(struct evt_store *s)
{
	return container_of(s, struct mem_store, store);
}

static int mem_append(struct evt_store *s, uint64_t seq, const char *line,
		      size_t len, struct mixfs_err *err)
{
	struct mem_store *m = mem_of(s);
	char *copy = malloc(len);
	int rc = 0;

	if (!copy)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	memcpy(copy, line, len);
	pthread_mutex_lock(&m->lock);
	if (m->end > m->start && m->ev[m->end - 1].seq >= seq) {
		rc = mixfs_err_set(err, -EINVAL,
				   "event %llu appended after event %llu",
				   (unsigned long long)seq,
				   (unsigned long long)m->ev[m->end - 1].seq);
		goto out_unlock;
	}
	if (m->start > 0 && m->start * 2 >= m->end) {
		memmove(m->ev, m->ev + m->start,
			(m->end - m->start) * sizeof(*m->ev));
		m->end -= m->start;
		m->start = 0;
	}
	if (m->end == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct mem_event *n = realloc(m->ev, cap * sizeof(*n));

		if (!n) {
			rc = mixfs_err_set(err, -ENOMEM, "out of memory");
			goto out_unlock;
		}
		m->ev = n;
		m->cap = cap;
	}
	m->ev[m->end++] = (struct mem_event){ seq, copy, len };
	copy = NULL;
out_unlock:
	pthread_mutex_unlock(&m->lock);
	free(copy);
	return rc;
}

static int mem_trim(struct evt_store *s, uint64_t below,
		    struct mixfs_err *err)
{
	struct mem_store *m = mem_of(s);

	(void)err;
	pthread_mutex_lock(&m->lock);
	while (m->start < m->end && m->ev[m->start].seq < below)
		free(m->ev[m->start++].line);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/*
 * Scan copies each line before calling @fn without the lock, so @fn may
 * take as long as it likes while appends go on.
 */
static int mem_scan(struct evt_store *s, uint64_t from, evt_scan_fn fn,
		    void *arg, struct mixfs_err *err)
{
	struct mem_store *m = mem_of(s);
	uint64_t next = from;

	for (;;) {
		size_t lo, hi;
		uint64_t seq;
		char *copy;
		size_t len;
		int stop;

		pthread_mutex_lock(&m->lock);
		lo = m->start;
		hi = m->end;
		while (lo < hi) {	/* first event with seq >= next */
			size_t mid = lo + (hi - lo) / 2;

			if (m->ev[mid].seq < next)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == m->end) {
			pthread_mutex_unlock(&m->lock);
			return 0;
		}
		seq = m->ev[lo].seq;
		len = m->ev[lo].len;
		copy = malloc(len);
		if (copy)
			memcpy(copy, m->ev[lo].line, len);
		pthread_mutex_unlock(&m->lock);
		if (!copy)
			return mixfs_err_set(err, -ENOMEM, "out of memory");
		stop = fn(arg, seq, copy, len);
		free(copy);
		if (stop)
			return 0;
		next = seq + 1;
	}
}

static int mem_bounds(struct evt_store *s, uint64_t *first, uint64_t *last,
		      uint64_t *reserved, struct mixfs_err *err)
{
	struct mem_store *m = mem_of(s);

	(void)err;
	pthread_mutex_lock(&m->lock);
	*first = m->start < m->end ? m->ev[m->start].seq : 0;
	*last = m->start < m->end ? m->ev[m->end - 1].seq : 0;
	*reserved = m->reserved;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static int mem_reserve(struct evt_store *s, uint64_t upto,
		       struct mixfs_err *err)
{
	struct mem_store *m = mem_of(s);

	(void)err;
	pthread_mutex_lock(&m->lock);
	m->reserved = upto;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static void mem_close(struct evt_store *s)
{
	struct mem_store *m = mem_of(s);

	for (size_t i = m->start; i < m->end; i++)
		free(m->ev[i].line);
	free(m->ev);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static const struct evt_store_ops mem_ops;

struct evt_store *evt_store_mem_new(void)
{
	struct mem_store *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->store.ops = &mem_ops;
	return &m->store;
}

void evt_store_close(struct evt_store *s)
{
	if (s)
		s->ops->close(s);
}

static const struct evt_store_ops mem_ops = {
	.version = 1,
	.append = mem_append,
	.trim = mem_trim,
	.scan = mem_scan,
	.bounds = mem_bounds,
	.reserve = mem_reserve,
	.close = mem_close,
};
