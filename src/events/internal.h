/*
 * internal.h - what the files of the events library share: the instance,
 * the ring record, the reader. Not for drivers: they use events.h only.
 *
 * Lock order: emitting takes the mount lock ev->mlock, then the ring lock
 * ev->lock, then the reader list lock ev->rlock, each dropped before the
 * next. The availability lock ev->alock is held while emitting (so an
 * outage's end is never numbered before its start), so it comes before
 * those three; the watch lock ev->wlock and the watchdog lock ev->wdlock
 * are leaves, taken with no other library lock held.
 */
#ifndef MIXFS_EVENTS_INTERNAL_H
#define MIXFS_EVENTS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "events/events.h"

/* Room in front of a record's body for {"seq":N,"time":"...", */
#define EVT_HEAD	96

/*
 * One event in memory: refcounted so the ring, the persister and readers
 * can each hold it without copying; freed by the last evt_rec_put().
 */
struct evt_rec {
	atomic_uint ref;
	uint64_t seq;
	uint32_t len;		/* of line, '\n' included */
	uint8_t type;
	char *line;		/* points into buf */
	char buf[];		/* EVT_HEAD bytes, then the body */
};

struct evt_reader {
	struct evt *ev;
	uint64_t next;			/* next seq to return; reader's thread */
	struct evt_rec *part;		/* line returned in parts, or NULL */
	size_t part_off;
	void (*wake)(void *arg);
	void *arg;
	atomic_bool armed;		/* set under ev->lock, cleared by emit */
	struct evt_reader *prev, *nextr;/* under ev->rlock */
};

struct evt {
	/* The ring and the sequence: under lock. */
	pthread_mutex_t lock;
	struct evt_rec **ring;
	size_t cap;
	uint64_t next_seq;		/* next seq to hand out */
	uint64_t open_first;		/* first seq handed out by this open */
	struct timespec last_time;	/* time of the newest event */
	atomic_uint_fast64_t dropped;	/* emits that failed for memory */
	bool closing;

	char uuid[37];
	pthread_mutex_t mlock;		/* protects mount */
	char *mount;

	/* Readers, for wakeups and for detaching at close. */
	pthread_mutex_t rlock;
	struct evt_reader *readers;
	size_t nreaders;

	/* Persistence; the fields below are under lock. */
	struct evt_store *store;
	uint64_t keep;
	pthread_t persister;
	bool persister_started;
	bool persister_idle;		/* waiting for work: emit signals */
	pthread_cond_t persist_cond;	/* new events, or closing */
	pthread_cond_t flushed_cond;	/* persisted moved */
	uint64_t persisted;		/* newest seq handled by the persister */
	uint64_t stored;		/* newest seq actually in the store */
	uint64_t store_first;
	uint64_t reserved;
	uint64_t persist_errors;
	uint64_t unpersisted_lost;

	/* Threshold watches: under wlock. */
	pthread_mutex_t wlock;
	struct evt_watch watch[EVT_METRIC_COUNT][EVT_WATCH_MAX];
	size_t nwatch[EVT_METRIC_COUNT];
	unsigned next_watch_id;

	/* Store availability (avail.c). */
	atomic_bool down;
	pthread_mutex_t alock;
	uint64_t down_since;		/* CLOCK_MONOTONIC ns; under alock */
	uint64_t failed_calls;		/* under alock */
	atomic_uint_fast64_t store_failures;	/* transient failures */
	atomic_uint_fast64_t store_stalls;	/* calls past the timeout */

	/* Calls in flight and their watchdog; calls is NULL (and nothing
	 * watched) without a timeout. */
	struct evt_call_slot *calls;	/* EVT_CALLS_MAX slots */
	uint64_t timeout_ns;
	pthread_t watchdog;
	bool watchdog_started;
	pthread_mutex_t wdlock;
	pthread_cond_t wdcond;
	bool wd_stop;			/* under wdlock */

	/* Events emitted since open, by type. */
	atomic_uint_fast64_t emitted[EVT_TYPE_COUNT];
};

/* json.c */
size_t evt_json_body(char *out, size_t size, const char *uuid,
		     const char *mount, enum evt_type type,
		     const struct evt_kv *kv, size_t nkv, uint64_t dropped);
size_t evt_json_head(char *out, size_t size, uint64_t seq,
		     const struct timespec *t);
int evt_kv_check(const struct evt_kv *kv, size_t nkv, struct mixfs_err *err);

/* events.c */
void evt_rec_put(struct evt_rec *rec);
void evt_mount_copy(struct evt *ev, char *buf, size_t size);

/* threshold.c */
void evt_watches_init(struct evt *ev);

/* avail.c: set up availability tracking and, with a @timeout_ms, the
 * table of calls in flight and the watchdog thread; undo it. */
int evt_avail_init(struct evt *ev, unsigned timeout_ms, struct mixfs_err *err);
void evt_avail_release(struct evt *ev);

#endif
