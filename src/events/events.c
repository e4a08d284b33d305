/*
 * events.c - the instance: numbering, the in-memory ring, readers, and the
 * persister thread that copies the ring into the driver's store.
 *
 * The ring is an array of refcounted records indexed by seq % cap. Emitting
 * formats on the stack, allocates one record, and holds the ring lock only
 * to number, time-stamp and publish it; the store is written by the
 * persister thread, never by the emitting thread, so a slow or dead store
 * cannot slow a filesystem operation. Readers keep a cursor (a seq) rather
 * than a queue, so a consumer that stops reading costs nothing; when its
 * cursor falls out of memory it reads on from the store, and what neither
 * keeps reads as one events_lost line.
 *
 * Not here: thresholds (threshold.c), store availability, the watchdog
 * and policy helpers (avail.c), the socket feed (feed.c), store
 * implementations (store_*.c).
 */
#include "events/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void uuid_format(const unsigned char *u, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t o = 0;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = digits[u[i] >> 4];
		out[o++] = digits[u[i] & 15];
	}
	out[o] = '\0';
}

void evt_rec_put(struct evt_rec *rec)
{
	if (rec && atomic_fetch_sub(&rec->ref, 1) == 1)
		free(rec);
}

static struct evt_rec *rec_get(struct evt_rec *rec)
{
	atomic_fetch_add(&rec->ref, 1);
	return rec;
}

void evt_mount_copy(struct evt *ev, char *buf, size_t size)
{
	pthread_mutex_lock(&ev->mlock);
	snprintf(buf, size, "%s", ev->mount ? ev->mount : "");
	pthread_mutex_unlock(&ev->mlock);
}

int evt_set_mount(struct evt *ev, const char *mount)
{
	char *copy = strdup(mount ? mount : "");
	char *old;

	if (!copy)
		return -ENOMEM;
	pthread_mutex_lock(&ev->mlock);
	old = ev->mount;
	ev->mount = copy;
	pthread_mutex_unlock(&ev->mlock);
	free(old);
	return 0;
}

/* Oldest seq in the ring, or next_seq when the ring holds nothing. Under
 * ev->lock. */
static uint64_t ring_first(const struct evt *ev)
{
	uint64_t first = ev->open_first;

	if (ev->next_seq - first > ev->cap)
		first = ev->next_seq - ev->cap;
	return first;
}

/* --- Emitting ----------------------------------------------------------- */

static void wake_readers(struct evt *ev)
{
	pthread_mutex_lock(&ev->rlock);
	for (struct evt_reader *r = ev->readers; r; r = r->nextr) {
		if (r->wake && atomic_exchange(&r->armed, false))
			r->wake(r->arg);
	}
	pthread_mutex_unlock(&ev->rlock);
}

/* Number, time-stamp and publish @rec (body already at buf + EVT_HEAD). */
static uint64_t publish(struct evt *ev, struct evt_rec *rec, size_t body)
{
	char head[EVT_HEAD];
	struct evt_rec *old;
	struct timespec now;
	uint64_t seq;
	size_t h;

	pthread_mutex_lock(&ev->lock);
	seq = ev->next_seq;
	__atomic_store_n(&ev->next_seq, seq + 1, __ATOMIC_RELAXED);
	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec < ev->last_time.tv_sec ||
	    (now.tv_sec == ev->last_time.tv_sec &&
	     now.tv_nsec < ev->last_time.tv_nsec))
		now = ev->last_time;
	ev->last_time = now;
	h = evt_json_head(head, sizeof(head), seq, &now);
	memcpy(rec->buf + EVT_HEAD - h, head, h);
	rec->line = rec->buf + EVT_HEAD - h;
	rec->len = (uint32_t)(h + body);
	rec->seq = seq;
	old = ev->ring[seq % ev->cap];
	ev->ring[seq % ev->cap] = rec;
	if (ev->persister_idle)
		pthread_cond_signal(&ev->persist_cond);
	pthread_mutex_unlock(&ev->lock);
	evt_rec_put(old);
	return seq;
}

int evt_emitv(struct evt *ev, enum evt_type type, const struct evt_kv *kv,
	      size_t nkv, uint64_t *seqp)
{
	char body[EVT_LINE_MAX - EVT_HEAD];
	char mount[1024];
	struct evt_rec *rec;
	uint64_t dropped;
	size_t n;
	int rc;

	if ((unsigned)type >= EVT_TYPE_COUNT)
		return -EINVAL;
	rc = evt_kv_check(kv, nkv, NULL);
	if (rc)
		return rc;
	evt_mount_copy(ev, mount, sizeof(mount));
	dropped = atomic_exchange(&ev->dropped, 0);
	n = evt_json_body(body, sizeof(body), ev->uuid, mount, type, kv, nkv,
			  dropped);
	if (!n) {
		atomic_fetch_add(&ev->dropped, dropped);
		return -EINVAL;	/* cannot happen: values are cut to fit */
	}
	rec = malloc(sizeof(*rec) + EVT_HEAD + n);
	if (!rec) {
		atomic_fetch_add(&ev->dropped, dropped + 1);
		return -ENOMEM;
	}
	atomic_init(&rec->ref, 1);
	rec->type = (uint8_t)type;
	memcpy(rec->buf + EVT_HEAD, body, n);
	n = publish(ev, rec, n);
	atomic_fetch_add_explicit(&ev->emitted[type], 1, memory_order_relaxed);
	if (seqp)
		*seqp = n;
	wake_readers(ev);
	return 0;
}

int evt_emit(struct evt *ev, enum evt_type type, ...)
{
	struct evt_kv kv[EVT_DETAILS_MAX + 1];
	size_t n = 0;
	const char *k;
	va_list ap;

	va_start(ap, type);
	while ((k = va_arg(ap, const char *)) != NULL) {
		if (n == EVT_DETAILS_MAX) {
			va_end(ap);
			return -EINVAL;
		}
		kv[n].key = k;
		kv[n].val = va_arg(ap, const char *);
		kv[n].len = (size_t)-1;
		n++;
	}
	va_end(ap);
	return evt_emitv(ev, type, kv, n, NULL);
}

uint64_t evt_last_seq(struct evt *ev)
{
	uint64_t s;

	pthread_mutex_lock(&ev->lock);
	s = ev->next_seq - 1;
	pthread_mutex_unlock(&ev->lock);
	return s;
}

size_t evt_format_lost(struct evt *ev, uint64_t from, uint64_t to,
		       const char *reason, char *buf, size_t size)
{
	char f[24], t[24], mount[1024];
	struct evt_kv kv[3] = {
		{ "from", f, (size_t)-1 },
		{ "to", t, (size_t)-1 },
		{ "reason", reason, (size_t)-1 },
	};
	struct timespec now;
	size_t h, n;

	snprintf(f, sizeof(f), "%" PRIu64, from);
	snprintf(t, sizeof(t), "%" PRIu64, to);
	clock_gettime(CLOCK_REALTIME, &now);
	h = evt_json_head(buf, size, to, &now);
	if (!h)
		return 0;
	evt_mount_copy(ev, mount, sizeof(mount));
	n = evt_json_body(buf + h, size - h, ev->uuid, mount, EVT_EVENTS_LOST,
			  kv, 3, 0);
	return n ? h + n : 0;
}

/* --- Persister ---------------------------------------------------------- */

#define PERSIST_BATCH	64
#define TRIM_SLACK	256

/* Sleep up to @ms on persist_cond unless closing. Under ev->lock. */
static void persist_pause(struct evt *ev, unsigned ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&ev->persist_cond, &ev->lock, &until);
}

/*
 * Extend the reservation when fewer than half a ring of numbers is left.
 * Under ev->lock on entry and exit; drops it around the store call.
 */
static int persist_reserve(struct evt *ev)
{
	uint64_t want;
	int rc;

	if (ev->next_seq - 1 + ev->cap / 2 <= ev->reserved)
		return 0;
	want = ev->next_seq - 1 + ev->cap;
	pthread_mutex_unlock(&ev->lock);
	rc = ev->store->ops->reserve(ev->store, want, NULL);
	pthread_mutex_lock(&ev->lock);
	if (rc == 0 && want > ev->reserved)
		ev->reserved = want;
	return rc;
}

/* Forget stored events beyond the newest `keep`. Under ev->lock on entry
 * and exit; drops it around the store call. */
static int persist_trim(struct evt *ev)
{
	uint64_t below;
	int rc;

	if (!ev->store_first || ev->stored < ev->store_first + ev->keep)
		return 0;
	below = ev->stored - ev->keep + 1;
	pthread_mutex_unlock(&ev->lock);
	rc = ev->store->ops->trim(ev->store, below, NULL);
	pthread_mutex_lock(&ev->lock);
	if (rc == 0)
		ev->store_first = below;
	return rc;
}

/*
 * The persister: appends what the ring holds to the store in batches,
 * trims, reserves numbers ahead. Events that left the ring before it could
 * store them (the store was failing, or a burst outran it) are counted and,
 * once the store takes writes again, reported by one events_lost event for
 * the whole range (reporting at once could itself overflow the ring).
 */
static void *persister_main(void *arg)
{
	struct evt *ev = arg;
	struct evt_rec *batch[PERSIST_BATCH];
	unsigned backoff = 0, close_tries = 0;
	uint64_t lost_from = 0, lost_to = 0;

	pthread_mutex_lock(&ev->lock);
	for (;;) {
		uint64_t first = ring_first(ev);
		bool closing = ev->closing;
		size_t n = 0, done = 0;
		int rc = 0;

		if (ev->persisted + 1 >= ev->next_seq &&
		    ev->next_seq - 1 <= ev->reserved && !lost_to) {
			if (ev->closing) {
				persist_trim(ev);
				break;
			}
			ev->persister_idle = true;
			pthread_cond_wait(&ev->persist_cond, &ev->lock);
			ev->persister_idle = false;
			continue;
		}
		if (ev->closing && backoff && ++close_tries > 6)
			break;	/* the store keeps failing: give up */
		if (ev->persisted + 1 < first) {
			if (!lost_to)
				lost_from = ev->persisted + 1;
			lost_to = first - 1;
			ev->unpersisted_lost += first - 1 - ev->persisted;
			ev->persisted = first - 1;
		}
		rc = persist_reserve(ev);
		for (uint64_t s = ev->persisted + 1;
		     rc == 0 && s < ev->next_seq && n < PERSIST_BATCH; s++)
			batch[n++] = rec_get(ev->ring[s % ev->cap]);
		pthread_mutex_unlock(&ev->lock);

		for (done = 0; done < n; done++) {
			rc = ev->store->ops->append(ev->store, batch[done]->seq,
						    batch[done]->line,
						    batch[done]->len, NULL);
			if (rc)
				break;
		}
		if (rc == 0 && lost_to && !closing) {
			char f[24], t[24];

			snprintf(f, sizeof(f), "%" PRIu64, lost_from);
			snprintf(t, sizeof(t), "%" PRIu64, lost_to);
			evt_emit(ev, EVT_EVENTS_LOST, "from", f, "to", t,
				 "reason", "events left memory before the store could keep them",
				 NULL);
			lost_to = 0;
		} else if (rc == 0 && closing) {
			lost_to = 0;	/* no more events once closing */
		}
		pthread_mutex_lock(&ev->lock);
		if (done) {
			ev->persisted = batch[done - 1]->seq;
			ev->stored = ev->persisted;
			if (!ev->store_first)
				ev->store_first = batch[0]->seq;
		}
		for (size_t i = 0; i < n; i++)
			evt_rec_put(batch[i]);
		if (rc == 0 && ev->store_first &&
		    ev->stored >= ev->store_first + ev->keep + TRIM_SLACK)
			rc = persist_trim(ev);
		pthread_cond_broadcast(&ev->flushed_cond);
		if (rc) {
			ev->persist_errors++;
			backoff = backoff ? (backoff * 2 > 2000 ? 2000 : backoff * 2)
					  : 10;
			persist_pause(ev, backoff);
		} else {
			backoff = 0;
		}
	}
	pthread_cond_broadcast(&ev->flushed_cond);
	pthread_mutex_unlock(&ev->lock);
	return NULL;
}

int evt_flush(struct evt *ev, unsigned timeout_ms)
{
	struct timespec until;
	int rc = 0;

	if (!ev->store)
		return 0;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&ev->lock);
	while (ev->stored + 1 < ev->next_seq && rc == 0) {
		rc = pthread_cond_timedwait(&ev->flushed_cond, &ev->lock,
					    &until);
	}
	if (rc == ETIMEDOUT && ev->stored + 1 >= ev->next_seq)
		rc = 0;
	pthread_mutex_unlock(&ev->lock);
	return rc ? -ETIMEDOUT : 0;
}

/* --- Open and close ----------------------------------------------------- */

int evt_open(const struct evt_config *cfg, struct evt **out,
	     struct mixfs_err *err)
{
	uint64_t first = 0, last = 0, reserved = 0;
	struct evt *ev;
	int rc;

	*out = NULL;
	if ((cfg->ring && cfg->ring < 16) || cfg->ring > (1u << 24))
		return mixfs_err_set(err, -EINVAL,
				     "events ring of %zu is outside 16..%u",
				     cfg->ring, 1u << 24);
	if (cfg->store && (!cfg->store->ops || cfg->store->ops->version != 1))
		return mixfs_err_set(err, -EINVAL,
				     "event store has no version 1 operations");
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	ev->cap = cfg->ring ? cfg->ring : EVT_RING_DEFAULT;
	ev->keep = cfg->keep ? cfg->keep : EVT_KEEP_DEFAULT;
	ev->ring = calloc(ev->cap, sizeof(*ev->ring));
	ev->mount = strdup(cfg->mount ? cfg->mount : "");
	if (!ev->ring || !ev->mount) {
		rc = mixfs_err_set(err, -ENOMEM, "out of memory");
		goto out_free;
	}
	uuid_format(cfg->uuid, ev->uuid);
	pthread_mutex_init(&ev->lock, NULL);
	pthread_mutex_init(&ev->mlock, NULL);
	pthread_mutex_init(&ev->rlock, NULL);
	pthread_cond_init(&ev->persist_cond, NULL);
	pthread_cond_init(&ev->flushed_cond, NULL);
	evt_watches_init(ev);
	for (size_t i = 0; i < EVT_TYPE_COUNT; i++)
		atomic_init(&ev->emitted[i], 0);
	rc = evt_avail_init(ev, cfg->store_timeout_ms, err);
	if (rc)
		goto out_locks;

	ev->store = cfg->store;
	if (ev->store) {
		rc = ev->store->ops->bounds(ev->store, &first, &last, &reserved,
					    err);
		if (rc) {
			mixfs_err_prefix(err, rc, "reading the event store");
			goto out_destroy;
		}
	}
	ev->next_seq = (last > reserved ? last : reserved) + 1;
	ev->open_first = ev->next_seq;
	ev->persisted = ev->stored = ev->next_seq - 1;
	ev->store_first = first;
	ev->reserved = ev->next_seq - 1;
	if (ev->store) {
		rc = ev->store->ops->reserve(ev->store,
					     ev->next_seq - 1 + ev->cap, err);
		if (rc) {
			mixfs_err_prefix(err, rc, "reserving event numbers");
			goto out_destroy;
		}
		ev->reserved = ev->next_seq - 1 + ev->cap;
		rc = -pthread_create(&ev->persister, NULL, persister_main, ev);
		if (rc) {
			mixfs_err_set(err, rc, "cannot start the event persister thread");
			goto out_destroy;
		}
		ev->persister_started = true;
	}
	*out = ev;
	return 0;

out_destroy:
	evt_avail_release(ev);
out_locks:
	pthread_cond_destroy(&ev->flushed_cond);
	pthread_cond_destroy(&ev->persist_cond);
	pthread_mutex_destroy(&ev->rlock);
	pthread_mutex_destroy(&ev->mlock);
	pthread_mutex_destroy(&ev->lock);
	pthread_mutex_destroy(&ev->wlock);
out_free:
	free(ev->mount);
	free(ev->ring);
	free(ev);
	return rc;
}

void evt_close(struct evt *ev)
{
	if (!ev)
		return;
	evt_avail_release(ev);	/* the watchdog emits: stop it first */
	pthread_mutex_lock(&ev->lock);
	ev->closing = true;
	pthread_cond_broadcast(&ev->persist_cond);
	pthread_mutex_unlock(&ev->lock);
	if (ev->persister_started)
		pthread_join(ev->persister, NULL);
	/* A clean close hands the unused reservation back, so the next open
	 * continues at the next number instead of skipping ahead. */
	if (ev->store && ev->stored + 1 == ev->next_seq)
		ev->store->ops->reserve(ev->store, ev->stored, NULL);

	/* Detach readers: they keep their memory until evt_reader_close(). */
	pthread_mutex_lock(&ev->rlock);
	for (struct evt_reader *r = ev->readers, *n; r; r = n) {
		n = r->nextr;
		if (r->wake)
			r->wake(r->arg);
		r->ev = NULL;
		r->prev = r->nextr = NULL;
	}
	ev->readers = NULL;
	pthread_mutex_unlock(&ev->rlock);

	for (size_t i = 0; i < ev->cap; i++)
		evt_rec_put(ev->ring[i]);
	pthread_cond_destroy(&ev->flushed_cond);
	pthread_cond_destroy(&ev->persist_cond);
	pthread_mutex_destroy(&ev->rlock);
	pthread_mutex_destroy(&ev->mlock);
	pthread_mutex_destroy(&ev->lock);
	pthread_mutex_destroy(&ev->wlock);
	free(ev->mount);
	free(ev->ring);
	free(ev);
}

void evt_stats(struct evt *ev, struct evt_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&ev->lock);
	st->last_seq = ev->next_seq - 1;
	st->ring_first = ring_first(ev) < ev->next_seq ? ring_first(ev) : 0;
	st->persisted = ev->store ? ev->stored : 0;
	st->store_first = ev->store ? ev->store_first : 0;
	st->persist_errors = ev->persist_errors;
	st->unpersisted_lost = ev->unpersisted_lost;
	pthread_mutex_unlock(&ev->lock);
	st->dropped = atomic_load(&ev->dropped);
	for (size_t i = 0; i < EVT_TYPE_COUNT; i++)
		st->emitted[i] = atomic_load_explicit(&ev->emitted[i],
						      memory_order_relaxed);
	st->store_failures = atomic_load_explicit(&ev->store_failures,
						  memory_order_relaxed);
	st->store_stalls = atomic_load_explicit(&ev->store_stalls,
						memory_order_relaxed);
	st->calls_in_flight = evt_calls_in_flight(ev);
	pthread_mutex_lock(&ev->rlock);
	st->readers = ev->nreaders;
	pthread_mutex_unlock(&ev->rlock);
}

/* --- Readers ------------------------------------------------------------ */

int evt_reader_open(struct evt *ev, uint64_t from, void (*wake)(void *arg),
		    void *arg, struct evt_reader **out, struct mixfs_err *err)
{
	struct evt_reader *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return mixfs_err_set(err, -ENOMEM, "out of memory");
	r->ev = ev;
	r->wake = wake;
	r->arg = arg;
	atomic_init(&r->armed, false);
	pthread_mutex_lock(&ev->lock);
	if (from == EVT_FROM_NOW || from > ev->next_seq)
		r->next = ev->next_seq;
	else
		r->next = from ? from : 1;
	pthread_mutex_unlock(&ev->lock);
	pthread_mutex_lock(&ev->rlock);
	r->nextr = ev->readers;
	if (ev->readers)
		ev->readers->prev = r;
	ev->readers = r;
	ev->nreaders++;
	pthread_mutex_unlock(&ev->rlock);
	*out = r;
	return 0;
}

void evt_reader_close(struct evt_reader *r)
{
	struct evt *ev;

	if (!r)
		return;
	ev = r->ev;
	if (ev) {
		pthread_mutex_lock(&ev->rlock);
		if (r->prev)
			r->prev->nextr = r->nextr;
		else if (ev->readers == r)
			ev->readers = r->nextr;
		if (r->nextr)
			r->nextr->prev = r->prev;
		ev->nreaders--;
		pthread_mutex_unlock(&ev->rlock);
	}
	evt_rec_put(r->part);
	free(r);
}

uint64_t evt_reader_next(const struct evt_reader *r)
{
	return r->next;
}

uint64_t evt_reader_lag(const struct evt_reader *r)
{
	uint64_t next;

	if (!r->ev)
		return 0;
	/* A racy but untorn read: callers poll this, emitters need the lock. */
	next = __atomic_load_n(&r->ev->next_seq, __ATOMIC_RELAXED);
	return next > r->next ? next - r->next : 0;
}

/* Continue a line returned in parts. */
static size_t read_part(struct evt_reader *r, char *buf, size_t size)
{
	size_t n = r->part->len - r->part_off;

	if (n > size)
		n = size;
	memcpy(buf, r->part->line + r->part_off, n);
	r->part_off += n;
	if (r->part_off == r->part->len) {
		evt_rec_put(r->part);
		r->part = NULL;
	}
	return n;
}

/* Give @line to the reader: whole if it fits, in parts if nothing was
 * returned yet; returns false when it must wait for the next call. */
static bool take_line(struct evt_reader *r, uint64_t seq, const char *line,
		      size_t len, char *buf, size_t size, size_t *n)
{
	struct evt_rec *copy;

	if (len <= size - *n) {
		memcpy(buf + *n, line, len);
		*n += len;
		r->next = seq + 1;
		return true;
	}
	if (*n)
		return false;
	copy = malloc(sizeof(*copy) + len);
	if (!copy)
		return false;
	atomic_init(&copy->ref, 1);
	copy->seq = seq;
	copy->len = (uint32_t)len;
	copy->line = copy->buf;
	memcpy(copy->buf, line, len);
	r->part = copy;
	r->part_off = 0;
	r->next = seq + 1;
	*n = read_part(r, buf, size);
	return false;
}

/* A lost range as a line; false when it does not fit now. */
static bool take_lost(struct evt_reader *r, uint64_t from, uint64_t to,
		      char *buf, size_t size, size_t *n)
{
	char line[1024 + 2048];
	size_t len = evt_format_lost(r->ev, from, to,
				     "events no longer kept", line,
				     sizeof(line));

	if (!len)
		return false;
	return take_line(r, to, line, len, buf, size, n);
}

struct scan_ctx {
	struct evt_reader *r;
	char *buf;
	size_t size, n;
	uint64_t limit;		/* stop before this seq (the ring has it) */
	bool stopped;
};

static int scan_one(void *arg, uint64_t seq, const char *line, size_t len)
{
	struct scan_ctx *c = arg;
	uint64_t gap_end = seq < c->limit ? seq : c->limit;

	if (seq < c->r->next)
		return 0;
	/* Numbers missing from the store before this event (or before the
	 * ring takes over) were lost. */
	if (gap_end > c->r->next &&
	    !take_lost(c->r, c->r->next, gap_end - 1, c->buf, c->size, &c->n)) {
		c->stopped = true;
		return 1;
	}
	if (seq >= c->limit ||
	    !take_line(c->r, seq, line, len, c->buf, c->size, &c->n)) {
		c->stopped = true;
		return 1;
	}
	return 0;
}

/* Events older than the ring: from the store, gaps as events_lost. */
static ssize_t read_old(struct evt_reader *r, uint64_t ring_start,
			char *buf, size_t size)
{
	struct scan_ctx c = { .r = r, .buf = buf, .size = size,
			      .limit = ring_start };
	int rc;

	if (r->ev->store) {
		rc = r->ev->store->ops->scan(r->ev->store, r->next, scan_one,
					     &c, NULL);
		if (rc < 0 && c.n == 0)
			return rc;
	}
	if (!c.stopped && r->next < ring_start)
		take_lost(r, r->next, ring_start - 1, buf, size, &c.n);
	return (ssize_t)c.n;
}

#define READ_BATCH	256

ssize_t evt_reader_read(struct evt_reader *r, char *buf, size_t size)
{
	struct evt_rec *take[READ_BATCH];
	struct evt *ev = r->ev;
	size_t n = 0, ntake = 0;
	uint64_t start;

	if (size == 0)
		return 0;
	if (r->part)
		return (ssize_t)read_part(r, buf, size);
	if (!ev)
		return 0;
	pthread_mutex_lock(&ev->lock);
	start = ring_first(ev);
	if (r->next < start) {
		pthread_mutex_unlock(&ev->lock);
		return read_old(r, start, buf, size);
	}
	if (r->next >= ev->next_seq)
		atomic_store(&r->armed, true);
	/* Take references under the lock and copy after it: emitters wait
	 * for this lock, so it is held for counting, not for copying. */
	while (r->next < ev->next_seq && ntake < READ_BATCH) {
		struct evt_rec *rec = ev->ring[r->next % ev->cap];

		if (rec->len <= size - n) {
			take[ntake++] = rec_get(rec);
			n += rec->len;
			r->next++;
			continue;
		}
		if (n == 0) {
			r->part = rec_get(rec);
			r->part_off = 0;
			r->next++;
		}
		break;
	}
	pthread_mutex_unlock(&ev->lock);
	n = 0;
	for (size_t i = 0; i < ntake; i++) {
		memcpy(buf + n, take[i]->line, take[i]->len);
		n += take[i]->len;
		evt_rec_put(take[i]);
	}
	if (r->part && n == 0)
		n = read_part(r, buf, size);
	return (ssize_t)n;
}

int evt_reader_poll(struct evt_reader *r)
{
	struct evt *ev = r->ev;
	int ready;

	if (r->part)
		return 1;
	if (!ev)
		return 1;	/* closed: a read returns 0 at once */
	pthread_mutex_lock(&ev->lock);
	ready = r->next < ev->next_seq;
	if (!ready)
		atomic_store(&r->armed, true);
	pthread_mutex_unlock(&ev->lock);
	return ready;
}
