/*
 * objstore_cache.h - the cache: backend, a bounded local store in front of
 * a slow one.
 *
 * --- URI ----------------------------------------------------------------
 *
 *   cache:SPEC:REMOTE-URI
 *   SPEC  = TERM *( "," TERM )
 *   TERM  = "local=[" LOCAL-URI "]"  the store that holds the cached pieces
 *                                   (required; dir: or rocksdb: in real use)
 *         | "max=" SIZE             most bytes the cache may hold (required)
 *         | "piece=" SIZE           cache granularity: 64K to 32M, a power
 *                                   of two (default OBJSTORE_CACHE_PIECE)
 *         | "margin=" SIZE          free space to leave in the local store
 *                                   (default a twentieth of its capacity,
 *                                   at most 1G)
 *
 * Example:
 *   cache:local=[dir:/var/cache/mixfs],max=20G:rados:mixfs?conf=/etc/ceph/ceph.conf
 *
 * Why this shape. The remote URI runs from the first ':' outside brackets
 * to the end and is handed to objstore_open() unchanged, exactly as
 * faulty:SPEC:INNER-URI hands on its inner URI: so the remote may hold any
 * ':', '?', '&' or '/', may itself be a faulty: or cache: URI, and a query
 * added at the end of the whole URI (?size=N) reaches the remote, whose
 * capacity is the store's. Only one URI can run to the end, so the other,
 * the local one, sits in brackets, as an IPv6 address does inside an URL:
 * inside them ':' and ',' end nothing, and brackets nest (a local
 * faulty:...:dir:... or a bracketed URI inside the local one both work).
 * The one thing a LOCAL-URI cannot hold is an unbalanced '[' or ']'. A
 * form with two bare URIs (cache:max=2G:LOCAL:REMOTE) cannot tell where
 * the first ends, since a path or a nested URI may hold ':'; percent-
 * encoding the local URI would be unambiguous too, but unreadable
 * (local=dir%3A%2Fvar%2Fcache).
 *
 * --- Behaviour ----------------------------------------------------------
 *
 * The local store belongs to the cache: object ID of the remote is cached
 * in object ID of the local store, each cached piece at its own offset.
 * Anything else found in the local store at open is removed.
 *
 * Reads are served piece by piece (pieces are aligned, piece= bytes): a
 * piece the local store holds is read from it (and checksum-verified by
 * it); any other piece is fetched from the remote (neighbouring missing
 * pieces of one read in one remote call) and written into the local store.
 * A 4 KiB read of a huge object fetches one piece, not the object.
 *
 * Bounded: the bytes held (each piece counted rounded up to 64 KiB, the
 * largest chunk of the local backends) never exceed max=, and a fill never
 * takes the local store's free space below margin= (checked per fill: two
 * fills at once may each take the last piece's room). The least recently
 * used piece is evicted (punched out of the local store; an object's last
 * piece removes the local object) to make room; a piece in use is never
 * evicted; when nothing can be evicted the read is served without filling.
 *
 * Writes go through: a write, truncate, punch or remove reaches the remote
 * first; when it succeeds, cached pieces it overlaps are updated in place
 * (writes into whole pieces) or dropped (everything else, and the piece
 * holding the end of the object whenever the size may move). A failed
 * remote call changes nothing. objstore_sync() is the remote's sync:
 * durable on the remote. Size, attributes, lists and statfs are always the
 * remote's. Transactions: with an atomic remote, the whole transaction goes
 * to the remote's commit, then the cached pieces of every object it
 * changed are dropped; otherwise the steps go one by one through the
 * cache. Capabilities, UUID and format version are the remote's.
 *
 * Coherence rests on one fact: while the cache has the remote open, no one
 * else changes it (every persistent backend locks its store: dir:,
 * rocksdb: and rados: refuse a second open with -EBUSY).
 *
 * Restart. A clean objstore_close() writes, into each local object, a
 * record of the remote's UUID and the object's size and mtime as the
 * remote reports them, and which pieces are held. objstore_open() takes the
 * records in and deletes them (so a crash from then on leaves none), and
 * removes every local object without a valid record: a cache that was not
 * closed cleanly is discarded whole. The first call on a recorded object
 * compares its record with the remote's stat; any difference (changed by
 * someone while the cache was closed, removed, re-created) drops that
 * object's pieces. Before the close releases the remote, it waits until
 * the wall clock is 20 ms past the newest mtime it recorded, so that a
 * later change by another client cannot carry the same mtime on a host
 * whose file times are coarse. The order of LRU is not kept: after an
 * open, recorded pieces are evicted in the order they were found.
 *
 * Local failures (errors, full, gone, a checksum mismatch) never fail a
 * call: the read is served from the remote, a piece that failed its
 * checksum is fetched again and rewritten (repaired), and the warning hook
 * below hears of it. Remote errors are returned as they are.
 *
 * Errors of objstore_open() for cache: URIs: -EINVAL (malformed SPEC, the
 * message names the term; missing local= or max=; no remote URI), and
 * whatever opening the local or the remote store returns.
 */
#ifndef MIXFS_OBJSTORE_CACHE_H
#define MIXFS_OBJSTORE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "objstore/objstore.h"

/* Default cache granularity (chosen by measurement; docs/objstore.md). */
#define OBJSTORE_CACHE_PIECE	(1u << 20)

/* What the warning hook hears. */
enum objstore_cache_warning {
	/* A local call failed; the cache serves from the remote meanwhile.
	 * Heard once per stretch of failures, not for every failed call. */
	OBJSTORE_CACHE_LOCAL_FAILED,
	/* A local call succeeded again after LOCAL_FAILED. */
	OBJSTORE_CACHE_LOCAL_RECOVERED,
	/* A cached piece failed its checksum; it was served from the remote
	 * and written again (the piece is in @id at @off). */
	OBJSTORE_CACHE_REPAIRED,
};

/* @code: the negative errno of the local call; @msg: a sentence for a
 * person (valid during the call only). */
typedef void (*objstore_cache_warn_fn)(void *arg,
				       enum objstore_cache_warning what,
				       int code, uint64_t id, uint64_t off,
				       const char *msg);

/* Counters since open. */
struct objstore_cache_stats {
	uint64_t hits;		/* pieces served from the local store */
	uint64_t misses;	/* pieces fetched from the remote */
	uint64_t fills;		/* pieces written into the local store */
	uint64_t fills_skipped;	/* pieces not kept: no room, or failed */
	uint64_t evictions;	/* pieces evicted to make room */
	uint64_t repairs;	/* pieces rewritten after a checksum error */
	uint64_t local_errors;	/* local calls that failed */
	uint64_t used;		/* bytes held now (pieces, rounded up) */
	uint64_t max;		/* max= */
	uint64_t pieces;	/* pieces held now */
	uint32_t piece;		/* piece= */
};

/* True if @s was opened from a cache: URI. */
bool objstore_is_cache(const struct objstore *s);

/*
 * Set the function told of local trouble (NULL to stop). It is called from
 * the thread whose call met the trouble, possibly with the cache's own lock
 * held: it must return quickly and must not call into @s (evt_emit() is
 * fine). Set it before other threads use the store. -EINVAL if @s is not
 * a cache store.
 */
int objstore_cache_set_warn(struct objstore *s, objstore_cache_warn_fn fn,
			    void *arg);

/* Copy the counters. -EINVAL if @s is not a cache store. */
int objstore_cache_stats(struct objstore *s, struct objstore_cache_stats *st);

/*
 * The local and remote stores under @s, for tests and tools that look at
 * them directly. Owned by @s: do not close; valid until objstore_close(@s).
 * Changing them behind the cache's back breaks its coherence. NULL if @s
 * is not a cache store.
 */
struct objstore *objstore_cache_local(struct objstore *s);
struct objstore *objstore_cache_remote(struct objstore *s);

#endif
