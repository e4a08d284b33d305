/*
 * avail.c - store availability: the tracker fed by the results of store
 * calls, the table of store calls in flight, the watchdog thread that
 * declares a stalled call an outage while it is still stuck, the errors=
 * policy helper and bounded retries.
 *
 * Why a watchdog: a store that stops answering does not fail calls, it
 * leaves them hanging, and a tracker fed only by results would say
 * nothing until the call returns, which may be never. So every call the
 * driver wraps in evt_call_begin()/evt_call_end() sits in a slot with its
 * start time, and a thread of ours looks at the slots a few times per
 * timeout. Begin and end are lock-free (a clock read and a compare-and-
 * swap on a slot of its own cache line); the watchdog only reads them, and
 * emits from its own thread, so no request ever waits for it.
 *
 * Not here: retrying or failing calls on the driver's behalf. The watchdog
 * reports; it does not cancel anything.
 */
#include "events/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Watchdog wake-ups: a quarter of the timeout, within these bounds. */
#define WATCH_PERIOD_MIN_NS	(UINT64_C(10) * 1000000)
#define WATCH_PERIOD_MAX_NS	(UINT64_C(1000) * 1000000)

/* One call in flight, alone on its cache line so that threads beginning
 * and ending calls do not contend. */
struct evt_call_slot {
	atomic_uint_fast64_t start;	/* CLOCK_MONOTONIC ns; 0: free */
	_Atomic(const char *) op;
	atomic_bool counted;		/* counted as a stall already */
} __attribute__((aligned(64)));

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* --- Errors policy ------------------------------------------------------ */

enum evt_errors evt_io_error(struct evt *ev, enum evt_errors policy,
			     const char *op, uint64_t ino, const char *path,
			     int rc)
{
	struct evt_kv kv[5];
	char inos[24], errs[32];
	const char *name = strerrorname_np(rc < 0 ? -rc : rc);
	size_t n = 0;

	kv[n++] = (struct evt_kv){ "op", op ? op : "", (size_t)-1 };
	if (ino) {
		snprintf(inos, sizeof(inos), "%" PRIu64, ino);
		kv[n++] = (struct evt_kv){ "ino", inos, (size_t)-1 };
	}
	if (path)
		kv[n++] = (struct evt_kv){ "path", path, (size_t)-1 };
	if (name)
		snprintf(errs, sizeof(errs), "%s", name);
	else
		snprintf(errs, sizeof(errs), "%d", rc < 0 ? -rc : rc);
	kv[n++] = (struct evt_kv){ "errno", errs, (size_t)-1 };
	kv[n++] = (struct evt_kv){ "action", evt_errors_name(policy),
				   (size_t)-1 };
	evt_emitv(ev, EVT_IO_ERROR, kv, n, NULL);
	return policy;
}

bool evt_errno_transient(int rc)
{
	switch (rc < 0 ? -rc : rc) {
	case EIO: case ETIMEDOUT: case ECONNREFUSED: case ECONNRESET:
	case ECONNABORTED: case ENOTCONN: case EHOSTUNREACH: case ENETDOWN:
	case ENETUNREACH: case ESHUTDOWN: case EAGAIN:
		return true;
	default:
		return false;
	}
}

/* --- Availability ------------------------------------------------------- */

bool evt_store_down(struct evt *ev)
{
	return atomic_load(&ev->down);
}

/*
 * The oldest call in flight for at least the timeout: its age in ns (0
 * when none) and its op in *@op. Counts each stalled call once in
 * ev->store_stalls when @count.
 */
static uint64_t oldest_stall(struct evt *ev, uint64_t now, const char **op,
			     bool count)
{
	uint64_t oldest = 0;

	if (!ev->calls)
		return 0;
	for (size_t i = 0; i < EVT_CALLS_MAX; i++) {
		struct evt_call_slot *s = &ev->calls[i];
		uint64_t start = atomic_load(&s->start);

		if (!start || now < start || now - start < ev->timeout_ns)
			continue;
		if (now - start > oldest) {
			oldest = now - start;
			*op = atomic_load_explicit(&s->op,
						   memory_order_relaxed);
		}
		if (count && !atomic_exchange(&s->counted, true))
			atomic_fetch_add_explicit(&ev->store_stalls, 1,
						  memory_order_relaxed);
	}
	return oldest;
}

static void emit_available(struct evt *ev, const char *op, uint64_t ms,
			   uint64_t failed)
{
	char d[24], f[24];

	snprintf(d, sizeof(d), "%" PRIu64, ms);
	snprintf(f, sizeof(f), "%" PRIu64, failed);
	evt_emit(ev, EVT_STORE_AVAILABLE, "op", op ? op : "", "down_ms", d,
		 "failed_calls", f, NULL);
}

void evt_store_report(struct evt *ev, int rc, const char *op)
{
	uint64_t now, ms, failed;
	const char *sop = NULL;

	if (rc >= 0 && !atomic_load(&ev->down))
		return;
	if (rc < 0 && !evt_errno_transient(rc))
		return;
	if (rc < 0)
		atomic_fetch_add_explicit(&ev->store_failures, 1,
					  memory_order_relaxed);
	now = now_ns();
	/* Emitting under alock keeps the events of one outage in order:
	 * its end cannot be numbered before its start. */
	pthread_mutex_lock(&ev->alock);
	if (rc >= 0 && atomic_load(&ev->down)) {
		/* A quick answer does not end an outage while another call
		 * is still stuck past the timeout. */
		if (oldest_stall(ev, now, &sop, false))
			goto out_unlock;
		atomic_store(&ev->down, false);
		ms = now > ev->down_since ? (now - ev->down_since) / 1000000
					  : 0;
		failed = ev->failed_calls;
		emit_available(ev, op, ms, failed);
	} else if (rc < 0) {
		if (!atomic_load(&ev->down)) {
			const char *name = strerrorname_np(-rc);

			atomic_store(&ev->down, true);
			ev->down_since = now;
			ev->failed_calls = 0;
			evt_emit(ev, EVT_STORE_UNAVAILABLE, "op", op ? op : "",
				 "errno", name ? name : "?", NULL);
		}
		ev->failed_calls++;
	}
out_unlock:
	pthread_mutex_unlock(&ev->alock);
}

int evt_retry(struct evt *ev, const struct evt_retry *p, const char *op,
	      int (*fn)(void *arg), void *arg)
{
	unsigned tries = p->tries ? p->tries : 1, pause = p->first_ms;
	int rc = 0;

	for (unsigned i = 0; i < tries; i++) {
		struct timespec ts;

		rc = fn(arg);
		if (rc >= 0 || !evt_errno_transient(rc) || i + 1 == tries)
			break;
		ts.tv_sec = pause / 1000;
		ts.tv_nsec = (long)(pause % 1000) * 1000000;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
		pause = pause * 2 > p->max_ms ? p->max_ms : pause * 2;
	}
	if (ev)
		evt_store_report(ev, rc, op);
	return rc;
}

bool evt_retry_next(struct evt *ev, struct evt_retry_state *st,
		    unsigned budget_ms, int rc, const char *op)
{
	uint64_t now = now_ns(), left_ms, pause;
	struct timespec ts;

	/* EIO counts as an outage but is not retried: from a local store it
	 * is a medium error that another try will not mend. */
	if (rc >= 0 || !budget_ms || rc == -EIO || !evt_errno_transient(rc))
		return false;
	if (!st->start_ns) {
		st->start_ns = now;
		st->pause_ms = 10;
	}
	if ((now - st->start_ns) / 1000000 >= budget_ms)
		return false;
	if (ev)
		evt_store_report(ev, rc, op);
	left_ms = budget_ms - (now - st->start_ns) / 1000000;
	pause = st->pause_ms < left_ms ? st->pause_ms : left_ms;
	st->pause_ms = st->pause_ms >= 500 ? 1000 : st->pause_ms * 2;
	ts.tv_sec = (time_t)(pause / 1000);
	ts.tv_nsec = (long)(pause % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	return true;
}

/* --- Calls in flight ---------------------------------------------------- */

/* Where a thread starts looking for a free slot: its own, most likely. */
static atomic_uint next_hint;
static __thread unsigned call_hint = UINT32_MAX;

unsigned evt_call_begin(struct evt *ev, const char *op)
{
	uint64_t now;

	if (!ev->calls)
		return 0;
	if (call_hint == UINT32_MAX)
		call_hint = atomic_fetch_add_explicit(&next_hint, 1,
					memory_order_relaxed) % EVT_CALLS_MAX;
	now = now_ns();
	for (unsigned i = 0; i < EVT_CALLS_MAX; i++) {
		unsigned k = (call_hint + i) % EVT_CALLS_MAX;
		struct evt_call_slot *s = &ev->calls[k];
		uint_fast64_t free_slot = 0;

		if (atomic_load_explicit(&s->start, memory_order_relaxed) ||
		    !atomic_compare_exchange_strong_explicit(&s->start,
				&free_slot, now, memory_order_acq_rel,
				memory_order_relaxed))
			continue;
		/* The watchdog looks at a slot only once it is a timeout
		 * old, long after these stores. */
		atomic_store_explicit(&s->op, op, memory_order_release);
		atomic_store_explicit(&s->counted, false,
				      memory_order_relaxed);
		return k + 1;
	}
	return 0;
}

void evt_call_end(struct evt *ev, unsigned call, int rc, const char *op)
{
	/* Sequentially consistent, against the watchdog's second look. */
	if (call && ev->calls)
		atomic_store(&ev->calls[call - 1].start, 0);
	evt_store_report(ev, rc, op);
}

size_t evt_calls_in_flight(struct evt *ev)
{
	size_t n = 0;

	if (!ev->calls)
		return 0;
	for (size_t i = 0; i < EVT_CALLS_MAX; i++)
		n += atomic_load_explicit(&ev->calls[i].start,
					  memory_order_relaxed) != 0;
	return n;
}

/* --- The watchdog ------------------------------------------------------- */

/* One look at the calls in flight: the first stall of an outage emits
 * store_unavailable. */
static void watch_once(struct evt *ev)
{
	uint64_t now = now_ns(), age;
	const char *op = NULL;
	char stalled[24], limit[24], inflight[24];

	age = oldest_stall(ev, now, &op, true);
	if (!age || atomic_load(&ev->down))
		return;
	pthread_mutex_lock(&ev->alock);
	if (atomic_load(&ev->down))
		goto out_unlock;
	/*
	 * Say down first, then look again: a call that ended after the
	 * first look either sees down set (and its report ends the outage
	 * after this one is emitted: alock orders them), or ended before
	 * this second look, which then finds it gone. Both accesses are
	 * sequentially consistent, which is what rules out missing both.
	 */
	atomic_store(&ev->down, true);
	age = oldest_stall(ev, now, &op, false);
	if (!age) {
		atomic_store(&ev->down, false);
		goto out_unlock;
	}
	ev->down_since = now - age;	/* unanswered since the call began */
	ev->failed_calls = 0;
	snprintf(stalled, sizeof(stalled), "%" PRIu64, age / 1000000);
	snprintf(limit, sizeof(limit), "%" PRIu64, ev->timeout_ns / 1000000);
	snprintf(inflight, sizeof(inflight), "%zu", evt_calls_in_flight(ev));
	evt_emit(ev, EVT_STORE_UNAVAILABLE, "op", op ? op : "",
		 "errno", "ETIMEDOUT", "stalled_ms", stalled,
		 "timeout_ms", limit, "in_flight", inflight, NULL);
out_unlock:
	pthread_mutex_unlock(&ev->alock);
}

static void *watchdog_main(void *arg)
{
	struct evt *ev = arg;
	uint64_t period = ev->timeout_ns / 4;

	if (period < WATCH_PERIOD_MIN_NS)
		period = WATCH_PERIOD_MIN_NS;
	if (period > WATCH_PERIOD_MAX_NS)
		period = WATCH_PERIOD_MAX_NS;
	pthread_mutex_lock(&ev->wdlock);
	while (!ev->wd_stop) {
		struct timespec until;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += (time_t)(period / 1000000000u);
		until.tv_nsec += (long)(period % 1000000000u);
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&ev->wdcond, &ev->wdlock, &until);
		if (ev->wd_stop)
			break;
		pthread_mutex_unlock(&ev->wdlock);
		watch_once(ev);
		pthread_mutex_lock(&ev->wdlock);
	}
	pthread_mutex_unlock(&ev->wdlock);
	return NULL;
}

int evt_avail_init(struct evt *ev, unsigned timeout_ms, struct mixfs_err *err)
{
	pthread_condattr_t ca;
	int rc;

	atomic_init(&ev->down, false);
	pthread_mutex_init(&ev->alock, NULL);
	pthread_mutex_init(&ev->wdlock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ev->wdcond, &ca);
	pthread_condattr_destroy(&ca);
	if (!timeout_ms)
		return 0;
	ev->timeout_ns = (uint64_t)timeout_ms * 1000000;
	ev->calls = aligned_alloc(64, EVT_CALLS_MAX * sizeof(*ev->calls));
	if (!ev->calls) {
		rc = mixfs_err_set(err, -ENOMEM, "out of memory");
		goto out_destroy;
	}
	for (size_t i = 0; i < EVT_CALLS_MAX; i++) {
		atomic_init(&ev->calls[i].start, 0);
		atomic_init(&ev->calls[i].op, NULL);
		atomic_init(&ev->calls[i].counted, false);
	}
	rc = -pthread_create(&ev->watchdog, NULL, watchdog_main, ev);
	if (rc) {
		mixfs_err_set(err, rc, "cannot start the store watchdog thread");
		goto out_free;
	}
	ev->watchdog_started = true;
	return 0;

out_free:
	free(ev->calls);
	ev->calls = NULL;
out_destroy:
	pthread_cond_destroy(&ev->wdcond);
	pthread_mutex_destroy(&ev->wdlock);
	pthread_mutex_destroy(&ev->alock);
	return rc;
}

void evt_avail_release(struct evt *ev)
{
	if (ev->watchdog_started) {
		pthread_mutex_lock(&ev->wdlock);
		ev->wd_stop = true;
		pthread_cond_signal(&ev->wdcond);
		pthread_mutex_unlock(&ev->wdlock);
		pthread_join(ev->watchdog, NULL);
		ev->watchdog_started = false;
	}
	free(ev->calls);
	ev->calls = NULL;
	pthread_cond_destroy(&ev->wdcond);
	pthread_mutex_destroy(&ev->wdlock);
	pthread_mutex_destroy(&ev->alock);
}
