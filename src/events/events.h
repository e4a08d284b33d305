/*
 * events.h - generic filesystem events: the manual.
 *
 * A filesystem reports what a person or a scheduler should know about it as
 * events: it was mounted, space is running low, the object store stopped
 * answering, a checksum failed (or failed and was repaired), it went
 * read-only. This library numbers them, keeps them, and hands them to any
 * number of consumers without ever letting a consumer slow the filesystem.
 *
 * What it deliberately does not do: decide anything for the driver. It does
 * not retry store calls on its own, remount, unmount or sleep behind a
 * driver's back; it offers helpers (evt_io_error() says which action the
 * errors= policy asks for; evt_retry() retries when the driver asks it to).
 * It does not know about FUSE: the in-mount `.mixfs/events` file is a
 * struct evt_reader the FUSE layer serves.
 *
 * ---------------------------------------------------------------------
 * The event
 * ---------------------------------------------------------------------
 * One JSON object per line (the line ends with '\n'), keys in this order:
 *
 *   {"seq":42,"time":"2024-05-01T12:00:00.123456789Z",
 *    "uuid":"0b6f...-...","mount":"/mnt/x","category":"threshold",
 *    "type":"space_low","details":{"free":"1048576","total":"...",...}}
 *
 * - seq: starts at 1 and grows by one per event for the life of the
 *   filesystem, across mounts (restored from the persistent store, see
 *   below). Not reused after a crash either: numbers are reserved in the
 *   store a ring's worth ahead of use, and an open after a crash continues
 *   after the reservation (a consumer asking for the skipped numbers gets
 *   events_lost). Only a crash while the store refused every write, with
 *   more events emitted than the reservation covered, can reuse numbers.
 * - time: UTC, RFC 3339 with nanoseconds. Never decreases along seq.
 * - category: info, warning, error or threshold. Warning is for transient
 *   trouble that may clear on its own (store_unavailable, cache_degraded)
 *   and for trouble already repaired (checksum_corrected); error is for trouble that will
 *   not clear without a person (io_error, checksum_error, remounted_ro,
 *   fsck_needed); threshold for the watches below.
 * - details: string values only (numbers are written in decimal), so every
 *   value reaches a hook as an environment variable unchanged.
 *
 * Escaping (every line is valid JSON for any RFC 8259 parser): '"' and '\\'
 * are escaped, control bytes become \n, \t, \r, \b, \f or \u00XX, DEL
 * becomes \u007f. Valid UTF-8 is copied as is. A byte that is not part of
 * valid UTF-8 (file names are bytes, not text) becomes U+FFFD (\ufffd),
 * and the value's exact bytes are then also given in a sibling detail
 * named "<key>_hex" (lowercase hex), so nothing is lost and no parser
 * chokes on a lone surrogate. Each detail value is cut to EVT_VALUE_MAX
 * bytes (the detail "truncated" names the keys that were cut).
 *
 * ---------------------------------------------------------------------
 * How a driver and the daemon use it (the whole life of one mount)
 * ---------------------------------------------------------------------
 *   open:    store = evt_store_objstore_open(os, EVT_OBJ_ID, ...)   (or NULL)
 *            evt_opts_parse()/evt_opts_parse_one() on the mount options
 *            evt_open(&cfg, &ev)     cfg: uuid, store, ring/keep sizes,
 *                    store_timeout_ms (opts.store_timeout_ms)
 *            evt_opts_apply(&opts, ev)   installs the threshold watches
 *            evt_set_mount(ev, mountpoint)
 *            evt_feed_start(ev, &fcfg, &feed)     the Unix-socket feed at
 *                    opts.socket, else /run/mixfs/<uuid>.sock (as root) or
 *                    $XDG_RUNTIME_DIR/mixfs/<uuid>.sock; the FUSE layer then
 *                    serves .mixfs/socket, a read-only file holding that
 *                    path and '\n' (how `mixfs events MOUNTPOINT` finds it)
 *            evt_emit(ev, EVT_MOUNTED, "driver", "tablefs", NULL)
 *   serve:   after each call that changes space or inode counts:
 *                evt_check_space(ev, free_bytes, total_bytes)
 *                evt_check_inodes(ev, free_inodes, total_inodes)
 *            around each object-store call:  c = evt_call_begin(ev, "write");
 *                rc = the call; evt_call_end(ev, c, rc, "write")
 *                (or, for calls nobody needs watched while in flight,
 *                evt_store_report(ev, rc, "write") after it)
 *            on an I/O error:  act = evt_io_error(ev, policy, "write", ino,
 *                              path, rc); then remount read-only (and
 *                              evt_emit(ev, EVT_REMOUNTED_RO, ...)) or
 *                              unmount as act says
 *            checksum trouble: evt_emit(ev, EVT_CHECKSUM_ERROR or
 *                              EVT_CHECKSUM_CORRECTED, "ino", ..., NULL)
 *   .mixfs/events open:  evt_reader_open(ev, EVT_FROM_NOW, wake, ph, &r)
 *            read:   evt_reader_read(r, buf, size)  (0 = nothing new: reply
 *                    an empty read, or -EAGAIN for O_NONBLOCK)
 *            poll:   evt_reader_poll(r)  (1 = readable); keep the poll handle
 *                    and call fuse_lowlevel_notify_poll() from @wake
 *            release: evt_reader_close(r)
 *   .mixfs/ctl:   evt_ctl(ev, command, out, size, err) answers "threshold ..."
 *                 and "events ..." commands (returns -ENOENT for others)
 *   unmount: evt_emit(ev, EVT_UNMOUNTED, NULL); evt_feed_stop(feed);
 *            close the .mixfs/events readers (no reader call may run during
 *            evt_close); evt_close(ev) (flushes to the store); then
 *            evt_store_close(store), then the objstore.
 *
 * Locking: every call here is thread-safe; the library takes its own short
 * locks and never holds one while calling the store, a consumer, or the
 * driver. The caller need hold nothing.
 *
 * Errors: calls return 0 (or a count) or a negative errno, and fill the
 * optional struct mixfs_err with a sentence. The library never prints.
 */
#ifndef MIXFS_EVENTS_H
#define MIXFS_EVENTS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

/* Longest line the library writes, '\n' included. */
#define EVT_LINE_MAX		16384
/* Longest detail value kept (bytes, before escaping). */
#define EVT_VALUE_MAX		2048
/* Most details per event (the library may add "<key>_hex" and
 * "truncated" beyond these). */
#define EVT_DETAILS_MAX		16
/* Longest detail key; keys are [a-z0-9_], starting with a letter. */
#define EVT_KEY_MAX		32
/* Default sizes (struct evt_config). */
#define EVT_RING_DEFAULT	4096
#define EVT_KEEP_DEFAULT	10000
/* Most threshold watches per metric. */
#define EVT_WATCH_MAX		16
/* evt_reader_open(): start after the newest event. */
#define EVT_FROM_NOW		UINT64_MAX

enum evt_category {
	EVT_CAT_INFO,
	EVT_CAT_WARNING,
	EVT_CAT_ERROR,
	EVT_CAT_THRESHOLD,
	EVT_CAT_COUNT,
};

/* Event types; each has a fixed category (evt_type_category()). */
enum evt_type {
	EVT_MOUNTED,		/* info: details as the driver likes */
	EVT_UNMOUNTED,		/* info */
	EVT_SPACE_LOW,		/* threshold: emitted by evt_check_space() */
	EVT_SPACE_OK,		/* threshold */
	EVT_INODES_LOW,		/* threshold: emitted by evt_check_inodes() */
	EVT_INODES_OK,		/* threshold */
	EVT_STORE_UNAVAILABLE,	/* warning: emitted by evt_store_report() */
	EVT_STORE_AVAILABLE,	/* info */
	EVT_IO_ERROR,		/* error: op, ino, path, errno (evt_io_error) */
	EVT_CHECKSUM_ERROR,	/* error: data lost, no good copy */
	EVT_CHECKSUM_CORRECTED,	/* warning: a good copy repaired it */
	EVT_REMOUNTED_RO,	/* error */
	EVT_FSCK_NEEDED,	/* error */
	EVT_EVENTS_LOST,	/* warning: from, to, reason */
	EVT_CACHE_DEGRADED,	/* warning: a local cache in front of the store
				 * failed; data is served from the store behind
				 * it meanwhile (errno, message) */
	EVT_CACHE_OK,		/* info: the cache works again */
	EVT_TYPE_COUNT,
};

/* "info", "space_low", ...; NULL when out of range. */
const char *evt_category_name(enum evt_category c);
const char *evt_type_name(enum evt_type t);
enum evt_category evt_type_category(enum evt_type t);
/* Look a name up; -EINVAL when unknown. */
int evt_category_parse(const char *name, enum evt_category *out);
int evt_type_parse(const char *name, enum evt_type *out);

/* One detail: @key a NUL-terminated [a-z0-9_] name, @val @len bytes (any
 * bytes; @len may be (size_t)-1 for a NUL-terminated @val). */
struct evt_kv {
	const char *key;
	const char *val;
	size_t len;
};

/* ---------------------------------------------------------------------
 * Persistence: a table of calls the driver supplies
 * ---------------------------------------------------------------------
 * The library keeps the newest `keep` events in a store of the driver's
 * choosing and restores the sequence from it. A store implementation embeds
 * struct evt_store (container_of). The library calls the store only from its
 * own persister thread and from evt_reader_read() (scan), never from
 * evt_emit(), and never with a lock held; calls may come from two threads
 * at once, so the store takes its own lock.
 *
 * Two implementations come with the library: evt_store_mem_new() (memory,
 * survives evt_close() so tests can reopen) and evt_store_objstore_open()
 * (one object of an objstore store, one attribute per event).
 */
struct evt_store;

/* Called by scan for each kept event in ascending seq; return non-zero to
 * stop (scan then returns 0). @line ends with '\n'. */
typedef int (*evt_scan_fn)(void *arg, uint64_t seq, const char *line,
			   size_t len);

struct evt_store_ops {
	unsigned version;	/* 1 */
	/* Keep event @seq (greater than any kept before). */
	int (*append)(struct evt_store *s, uint64_t seq, const char *line,
		      size_t len, struct mixfs_err *err);
	/* Forget every event with seq < @below. */
	int (*trim)(struct evt_store *s, uint64_t below,
		    struct mixfs_err *err);
	/* Call @fn for kept events with seq >= @from, ascending. */
	int (*scan)(struct evt_store *s, uint64_t from, evt_scan_fn fn,
		    void *arg, struct mixfs_err *err);
	/* Oldest and newest kept seq (0, 0 when none) and the reservation
	 * (the highest seq ever handed out may be up to *@reserved). */
	int (*bounds)(struct evt_store *s, uint64_t *first, uint64_t *last,
		      uint64_t *reserved, struct mixfs_err *err);
	/* Durably record that seqs up to @upto may be handed out (replaces
	 * the earlier reservation; a clean close lowers it to the last). */
	int (*reserve)(struct evt_store *s, uint64_t upto,
		       struct mixfs_err *err);
	/* Free the store's memory (not its persistent contents). */
	void (*close)(struct evt_store *s);
};

struct evt_store {
	const struct evt_store_ops *ops;
};

/* An in-memory store. Returns NULL only when out of memory. Free with
 * evt_store_close(). */
struct evt_store *evt_store_mem_new(void);

struct objstore;
/*
 * Keep events in object @id of @os: one attribute "e.<seq, 16 hex digits>"
 * per event, and attribute "reserved". With @create, the object is created
 * if missing. @os must outlive the returned store. Errors: those of the
 * objstore calls (-ENOENT without @create, -EIO, ...), -EUCLEAN for an
 * attribute that does not belong to an event log.
 */
int evt_store_objstore_open(struct objstore *os, uint64_t id, bool create,
			    struct evt_store **out, struct mixfs_err *err);

/* Close any store (calls its close op). @s may be NULL. */
void evt_store_close(struct evt_store *s);

/* ---------------------------------------------------------------------
 * The instance
 * --------------------------------------------------------------------- */
struct evt;

struct evt_config {
	unsigned char uuid[16];	/* the filesystem's UUID */
	const char *mount;	/* mount point, may be NULL (set later) */
	size_t ring;		/* events kept in memory; 0 = EVT_RING_DEFAULT */
	uint64_t keep;		/* events kept in @store; 0 = EVT_KEEP_DEFAULT */
	struct evt_store *store;/* may be NULL; the caller closes it after
				 * evt_close() */
	unsigned store_timeout_ms; /* a store call in flight this long is an
				 * outage (evt_call_begin()); 0: no watchdog */
};

/*
 * Open an instance. With a store, reads its bounds and continues the
 * sequence after the newest kept or reserved number, and starts a persister
 * thread that appends every event to the store, trims it to @keep events,
 * and reserves sequence numbers ahead. With a store_timeout_ms, starts the
 * watchdog thread that watches store calls in flight. Errors: -EINVAL (ring < 16 or
 * keep < 1), -ENOMEM, the store's errors from bounds (-EIO, ...), -EAGAIN
 * (no thread). On failure nothing is left open and the store is untouched.
 */
int evt_open(const struct evt_config *cfg, struct evt **out,
	     struct mixfs_err *err);

/*
 * Close: waits for the persister to write what is pending (giving up on a
 * store that fails, without blocking more than a few seconds), wakes and
 * detaches every reader (each then reads 0 forever; close them before or
 * after), frees the instance. Stop the feed first. @ev may be NULL.
 */
void evt_close(struct evt *ev);

/* Set the mount point written into later events (copied). -ENOMEM. */
int evt_set_mount(struct evt *ev, const char *mount);

/*
 * Emit one event of @type with details given as key, value pairs of
 * NUL-terminated strings, ended by NULL: evt_emit(ev, EVT_MOUNTED,
 * "driver", "tablefs", NULL). Never blocks on a consumer or the store:
 * formats on the stack, allocates one record, holds the ring lock for a few
 * hundred nanoseconds, wakes readers. If *@seq is wanted, pass a non-NULL
 * @seq to evt_emitv(). Returns 0, -EINVAL (a bad key, too many details, a
 * type out of range), -ENOMEM (the event is then not numbered; the next
 * one carries the detail "dropped" = count of events lost this way).
 */
int evt_emit(struct evt *ev, enum evt_type type, ...)
	__attribute__((sentinel));
int evt_emitv(struct evt *ev, enum evt_type type, const struct evt_kv *kv,
	      size_t nkv, uint64_t *seq);

/* Newest seq handed out (0 when none yet). */
uint64_t evt_last_seq(struct evt *ev);

/*
 * Format an events_lost line for [@from, @to] into @buf (size >=
 * EVT_LINE_MAX is always enough) without emitting it: used for a
 * consumer-specific loss (a consumer fell behind or asked for events no
 * longer kept). Its seq is @to, so a consumer that resumes "from seq + 1"
 * is right. Returns the length (including '\n').
 */
size_t evt_format_lost(struct evt *ev, uint64_t from, uint64_t to,
		       const char *reason, char *buf, size_t size);

/* Counters for status output. */
struct evt_stats {
	uint64_t last_seq;	/* newest seq handed out */
	uint64_t ring_first;	/* oldest seq still in memory (0 when none) */
	uint64_t persisted;	/* newest seq written to the store */
	uint64_t store_first;	/* oldest seq kept in the store */
	uint64_t persist_errors;/* failed store calls of the persister */
	uint64_t unpersisted_lost; /* events that left memory before they
				 * could be stored */
	uint64_t dropped;	/* events not emitted for lack of memory */
	size_t readers;		/* open readers */
	uint64_t emitted[EVT_TYPE_COUNT]; /* events emitted since evt_open(),
				 * by type (io_error, checksum_error, ...) */
	uint64_t store_failures;/* store calls reported failed with a
				 * transient error (evt_store_report()) */
	uint64_t store_stalls;	/* store calls seen in flight past the
				 * timeout, each counted once */
	size_t calls_in_flight;	/* store calls between evt_call_begin() and
				 * evt_call_end() now */
};
void evt_stats(struct evt *ev, struct evt_stats *st);

/* Wait until every event emitted so far is in the store (or @timeout_ms
 * passes: -ETIMEDOUT). 0 at once without a store. */
int evt_flush(struct evt *ev, unsigned timeout_ms);

/* ---------------------------------------------------------------------
 * Readers: a cursor on the stream, for the .mixfs/events file and the feed
 * --------------------------------------------------------------------- */
struct evt_reader;

/*
 * Open a reader that will return events with seq >= @from (1 or 0 for
 * every event still kept, EVT_FROM_NOW for new events only). Older events
 * come from memory or the store; events no longer kept read as one
 * events_lost line. @wake (may be NULL) is called with @arg once each time
 * new events arrive after evt_reader_read() returned 0 or evt_reader_poll()
 * returned 0 (edge-triggered, like FUSE poll notification). @wake is called
 * from the emitting thread with no library lock held except the reader
 * list lock: it must not block and must not call back into this library.
 * -ENOMEM.
 */
int evt_reader_open(struct evt *ev, uint64_t from, void (*wake)(void *arg),
		    void *arg, struct evt_reader **out, struct mixfs_err *err);

/*
 * Copy the next events into @buf: whole lines while they fit; a line longer
 * than @size is returned in parts over several calls. Returns the number of
 * bytes, 0 when there is nothing new (arms @wake), or a negative errno from
 * the store. Never blocks on anything but a store scan. One thread per
 * reader at a time.
 */
ssize_t evt_reader_read(struct evt_reader *r, char *buf, size_t size);

/* 1 if evt_reader_read() would return data now, else 0 (arms @wake). */
int evt_reader_poll(struct evt_reader *r);

/* Seq of the next event the reader will return. */
uint64_t evt_reader_next(const struct evt_reader *r);

/* Events between the reader and the newest event (how far behind it is). */
uint64_t evt_reader_lag(const struct evt_reader *r);

/* Detach and free. @r may be NULL. After return @wake is never called. */
void evt_reader_close(struct evt_reader *r);

/* ---------------------------------------------------------------------
 * Threshold watches with hysteresis
 * ---------------------------------------------------------------------
 * A watch on a metric (free space or free inodes) has a lower and an upper
 * level, each a percentage of the total or an absolute amount. It fires
 * the _low event when the metric falls below the lower level, then nothing
 * until the metric rises above the upper level, when it fires the _ok event
 * and re-arms. Several watches per metric are independent (warn at 15 %,
 * critical at 5 %). Details of both events: watch (id), low, ok (the levels
 * as written), free, total, free_pct (two decimals).
 */
enum evt_metric {
	EVT_METRIC_SPACE,
	EVT_METRIC_INODES,
	EVT_METRIC_COUNT,
};

struct evt_level {
	bool pct;		/* percentage of the total */
	uint64_t val;		/* pct: hundredths of a percent (0..10000);
				 * else bytes (space) or inodes */
};

struct evt_watch {
	unsigned id;		/* assigned by evt_watch_add(), from 1 */
	enum evt_metric metric;
	struct evt_level low, ok;
	bool fired;		/* _low sent, _ok not yet */
};

/*
 * Parse a level: "10%", "12.5%", "0.01%" (two decimals at most), or an
 * amount with an optional K/M/G/T/P suffix (powers of 1024; "1.5G" is not
 * accepted). -EINVAL with a message naming @text.
 */
int evt_level_parse(const char *text, struct evt_level *out,
		    struct mixfs_err *err);
/* Write @l as it would be parsed back ("12.5%", "10G", "123"). */
void evt_level_format(const struct evt_level *l, char *buf, size_t size);

/*
 * Check a watch: ok must be above low and of the same kind (both
 * percentages or both amounts), low above 0, ok at most 100 %. -EINVAL
 * with a message.
 */
int evt_watch_check(const struct evt_watch *w, struct mixfs_err *err);

/* Add a watch (checked as above); its id in *@id. -ENOSPC past
 * EVT_WATCH_MAX for the metric. A new watch starts armed; it fires at the
 * next check if the metric is already low. */
int evt_watch_add(struct evt *ev, enum evt_metric m,
		  const struct evt_level *low, const struct evt_level *ok,
		  unsigned *id, struct mixfs_err *err);
/* Remove watch @id. -ENOENT. */
int evt_watch_remove(struct evt *ev, unsigned id, struct mixfs_err *err);
/* Copy up to @max watches of every metric into @out; returns the count. */
size_t evt_watch_list(struct evt *ev, struct evt_watch *out, size_t max);

/*
 * Check the watches of a metric against the current free amount and total.
 * Cheap: a mutex held for a few comparisons per watch, no allocation
 * unless an event fires. Call after every change of space (write,
 * truncate, unlink, ...) or inode count. @total 0 is ignored.
 */
void evt_check_space(struct evt *ev, uint64_t free, uint64_t total);
void evt_check_inodes(struct evt *ev, uint64_t free, uint64_t total);
void evt_check(struct evt *ev, enum evt_metric m, uint64_t free,
	       uint64_t total);

/* ---------------------------------------------------------------------
 * Mount options and control commands
 * ---------------------------------------------------------------------
 * Mount options understood (all optional, in any order):
 *   space_low=LEVEL    starts a space watch
 *   space_ok=LEVEL     its upper level (after the space_low it belongs to;
 *                      default: low + 5 points for %, low + low/4 else)
 *   inodes_low=LEVEL, inodes_ok=LEVEL   the same for inodes
 *   errors=continue|remount-ro|unmount  what an I/O error leads to
 *   events_keep=N      events kept in the store
 *   events_ring=N      events kept in memory
 *   events_socket=PATH the feed's socket
 *   store_timeout=SECONDS  a store call in flight this long counts as an
 *                      outage (default EVT_STORE_TIMEOUT_DEFAULT; 0: off;
 *                      "500ms" for less than a second)
 *   store_retry=SECONDS  how long a driver retries a request whose store
 *                      call failed with a transient error before it fails
 *                      it (evt_retry_next(); default EVT_STORE_RETRY_DEFAULT;
 *                      0: no retries; "500ms" as above)
 */
#define EVT_STORE_TIMEOUT_DEFAULT	30	/* seconds */
#define EVT_STORE_RETRY_DEFAULT		5	/* seconds */
enum evt_errors {
	EVT_ERRORS_CONTINUE,
	EVT_ERRORS_REMOUNT_RO,
	EVT_ERRORS_UNMOUNT,
};

struct evt_opts {
	struct evt_watch watch[EVT_METRIC_COUNT * EVT_WATCH_MAX];
	size_t nwatch;
	enum evt_errors errors;		/* default EVT_ERRORS_REMOUNT_RO */
	uint64_t keep;			/* 0 = default */
	size_t ring;			/* 0 = default */
	char socket[108];		/* "" = none given */
	unsigned store_timeout_ms;	/* default 30000; 0: no watchdog */
	unsigned store_retry_ms;	/* default 5000; 0: no retries */
};

void evt_opts_init(struct evt_opts *o);
/*
 * Parse one option @key with value @val (NULL for a bare key). Returns 1 if
 * it was an events option and it was good, 0 if @key is not an events
 * option (the caller tries its own), -EINVAL with a message if it is one
 * but malformed. A watch's ok level is checked when the next option starts
 * another watch and in evt_opts_finish().
 */
int evt_opts_parse_one(struct evt_opts *o, const char *key, const char *val,
		       struct mixfs_err *err);
/* Parse a comma-separated list ("space_low=10%,space_ok=15%"); unknown
 * options fail -EINVAL. Calls evt_opts_finish(). */
int evt_opts_parse(struct evt_opts *o, const char *text,
		   struct mixfs_err *err);
/* Check the last watch and fill default ok levels. -EINVAL. */
int evt_opts_finish(struct evt_opts *o, struct mixfs_err *err);
/* Install the watches of @o in @ev. */
int evt_opts_apply(const struct evt_opts *o, struct evt *ev,
		   struct mixfs_err *err);

/* "continue", "remount-ro", "unmount". -EINVAL with a message. */
int evt_errors_parse(const char *text, enum evt_errors *out,
		     struct mixfs_err *err);
const char *evt_errors_name(enum evt_errors e);

/*
 * Answer a control command (for .mixfs/ctl). Known commands:
 *   threshold space|inodes LOW [OK]   add a watch; answers "watch N"
 *   threshold list                    one line per watch
 *   threshold remove ID               remove a watch
 *   events status                     counters of evt_stats()
 * Writes the answer into @out (NUL-terminated, cut to @size) and returns
 * its full length; -ENOENT if @cmd is not one of these (the caller tries
 * its own), -EINVAL with a precise message for a malformed one.
 */
int evt_ctl(struct evt *ev, const char *cmd, char *out, size_t size,
	    struct mixfs_err *err);

/* ---------------------------------------------------------------------
 * Errors policy and store availability
 * --------------------------------------------------------------------- */

/*
 * Emit io_error (details: op, ino if non-zero, path if non-NULL, errno as
 * a name such as "EIO") and return the action @policy asks for. The driver
 * carries the action out and then emits remounted_ro itself.
 */
enum evt_errors evt_io_error(struct evt *ev, enum evt_errors policy,
			     const char *op, uint64_t ino, const char *path,
			     int rc);

/* True for errors that mean "the store is not answering now" (EIO,
 * ETIMEDOUT, ECONNREFUSED, ECONNRESET, ENOTCONN, EHOSTUNREACH, ENETDOWN,
 * ENETUNREACH, ESHUTDOWN, EAGAIN); @rc negative or positive. */
bool evt_errno_transient(int rc);

/*
 * Report the result of a store call. The first transient failure after
 * success emits store_unavailable (details: op, errno); the first success
 * after that emits store_available (details: op, down_ms, failed_calls),
 * unless a call is still in flight past the timeout (see below): then the
 * outage goes on until a success comes with no such call left. Other
 * results change nothing. Cheap when nothing changes (one atomic load).
 */
void evt_store_report(struct evt *ev, int rc, const char *op);
/* True while the store is reported unavailable. */
bool evt_store_down(struct evt *ev);

/*
 * Store calls in flight, for stalls. A store that stops answering leaves
 * calls hanging instead of failing them; so the driver brackets each store
 * call (or each request that makes store calls) with these, and when the
 * instance has a store_timeout_ms (struct evt_config) a watchdog thread
 * looks at the calls in flight every quarter of the timeout (at least
 * every 10 ms, at most every second). The first time one has been in
 * flight for the timeout, while the store is not already reported down,
 * it emits store_unavailable with details op (that call's), errno
 * "ETIMEDOUT", stalled_ms (how long it has been in flight), timeout_ms and
 * in_flight (calls in flight then) -- while the call is still stuck. When
 * calls succeed again and none is stuck any more, evt_store_report()
 * emits store_available; its down_ms counts from the start of the stalled
 * call.
 *
 * evt_call_begin() returns a token for evt_call_end(): 0 when the instance
 * watches nothing (no timeout) or all EVT_CALLS_MAX slots are taken (the
 * call is then not watched). @op must stay valid until the call ends (a
 * string literal). Both are lock-free: a clock read and one
 * compare-and-swap on a slot alone on its cache line; they never block
 * and never emit, except that evt_call_end() reports @rc as
 * evt_store_report(ev, @rc, @op) does.
 */
#define EVT_CALLS_MAX		256
unsigned evt_call_begin(struct evt *ev, const char *op);
void evt_call_end(struct evt *ev, unsigned call, int rc, const char *op);
/* Calls between evt_call_begin() and evt_call_end() now. */
size_t evt_calls_in_flight(struct evt *ev);

/* Bounded retries with exponential backoff for transient errors. */
struct evt_retry {
	unsigned tries;		/* attempts in all, >= 1 (0 means 1) */
	unsigned first_ms;	/* pause after the first failure */
	unsigned max_ms;	/* longest pause */
};

/*
 * Call @fn(@arg) until it returns a value that is not a transient error or
 * @p->tries attempts were made, sleeping between attempts (first_ms,
 * doubling, at most max_ms). The final result goes to evt_store_report(ev,
 * rc, @op) (@ev may be NULL), so a failure the retries absorbed is not
 * reported as an outage. Returns @fn's last result. Sleeps in the calling
 * thread: use it where the driver decided waiting is right.
 */
int evt_retry(struct evt *ev, const struct evt_retry *p, const char *op,
	      int (*fn)(void *arg), void *arg);

/*
 * Retries bounded in time, for a driver's own loop around a request:
 *
 *	struct evt_retry_state st = EVT_RETRY_STATE_INIT;
 *	do
 *		rc = do_the_request(...);
 *	while (rc < 0 && evt_retry_next(ev, &st, budget_ms, rc, "write"));
 *
 * After a failed attempt with result @rc, returns true when @rc is a
 * transient error (evt_errno_transient(), but not EIO, which from a local
 * store is a medium error another try will not mend) and less than
 * @budget_ms have
 * passed since the first call with @st; it has then reported the failure
 * (evt_store_report(): store_unavailable once, however many attempts) and
 * slept before the next attempt: 10 ms, doubling, at most 1 s, never past
 * the budget. Returns false otherwise, reporting nothing: the caller
 * reports the final result as usual (evt_call_end(), whose success emits
 * store_available). @ev may be NULL (no reports); @budget_ms 0: no
 * retries. Sleeps in the calling thread.
 */
struct evt_retry_state {
	uint64_t start_ns;	/* of the first failure; 0: none yet */
	unsigned pause_ms;	/* the next pause */
};
#define EVT_RETRY_STATE_INIT	{ 0, 0 }
bool evt_retry_next(struct evt *ev, struct evt_retry_state *st,
		    unsigned budget_ms, int rc, const char *op);

/* ---------------------------------------------------------------------
 * The Unix-socket feed
 * ---------------------------------------------------------------------
 * Protocol: a client connects and may send one line first:
 *   from SEQ      events from SEQ on (0: all kept), then follow new ones
 *   from now      only new events
 *   dump SEQ      events from SEQ up to the newest at that moment, then
 *                 the server closes the connection
 * A client that sends nothing within hello_ms gets "from now". The server
 * then writes JSON lines. A line it cannot understand (or longer than 256
 * bytes) is answered with {"error":"..."} and the connection is closed;
 * later input is read and ignored. Events the client asked for that are
 * no longer kept come as one events_lost line.
 *
 * A client that stops reading never delays the filesystem: the server
 * writes without blocking, and when a client has made no progress for
 * stall_ms while output waits, or falls more than max_lag events behind,
 * the server drops its unsent events, sends an events_lost line naming the
 * range (reconnect with "from <from>" to get them from the store), and
 * closes the connection once that line is out (or after close_ms).
 */
struct evt_feed;

struct evt_feed_config {
	const char *path;	/* socket path (< 108 bytes) */
	unsigned mode;		/* 0 = 0660 */
	size_t max_clients;	/* 0 = 1024 */
	unsigned hello_ms;	/* 0 = 250 */
	unsigned stall_ms;	/* 0 = 10000 */
	uint64_t max_lag;	/* 0 = the ring size */
	unsigned close_ms;	/* 0 = 5000 */
};

/*
 * Create the socket at @c->path (replacing a stale socket nobody listens
 * on; -EADDRINUSE if a server answers there; -EEXIST if it is not a
 * socket), set its mode, and start the server thread. Errors: -EINVAL,
 * -ENAMETOOLONG, socket errors, -ENOMEM.
 */
int evt_feed_start(struct evt *ev, const struct evt_feed_config *c,
		   struct evt_feed **out, struct mixfs_err *err);

/* Number of connected clients. */
size_t evt_feed_clients(struct evt_feed *f);

/* Stop the server thread, close every client, remove the socket. @f may
 * be NULL. */
void evt_feed_stop(struct evt_feed *f);

#endif
