/*
 * objstore_faulty.h - the faulty: backend, a store that fails on purpose.
 *
 * faulty:SPEC:INNER-URI opens INNER-URI and passes every call through to
 * it, except the calls that SPEC says to delay or to fail. It is the
 * storage counterpart of SQLite's aSyscall[] table: a test can fail the
 * nth call, every write, a random fraction of calls, or make the store go
 * away and come back, and then check that the code above copes.
 *
 * SPEC ends at the first ':'; everything after it is the inner URI, handed
 * to objstore_open() unchanged (so faulty: stores nest). SPEC never holds a
 * ':' itself.
 *
 * --- SPEC grammar -------------------------------------------------------
 *
 *   SPEC  = "" | "none" | RULE *( ";" RULE )
 *   RULE  = TERM *( "," TERM )
 *   TERM  = "op=" OPS          which calls the rule watches (default: any)
 *         | "nth=" N           fail only the Nth watched call (1-based)
 *         | "after=" N         leave the first N watched calls alone
 *         | "count=" N         inject at most N faults, then stop
 *         | "p=" FRACTION      each call in the window faults with this
 *                              probability (0 to 1, default 1)
 *         | "seed=" N          seed of the rule's random draws (default 1)
 *         | "errno=" ERR       the error a fault returns (default EIO)
 *         | "delay=" DURATION  sleep this long before the call
 *   OPS   = OP *( "+" OP )
 *   OP    = create | create_fresh | remove | read | write | truncate |
 *           punch | stat | seek | list | getattr | setattr | rmattr |
 *           listattr | statfs | sync
 *         | any      every call
 *         | update   every call that changes objects: create,
 *                    create_fresh, remove, write, truncate, punch,
 *                    setattr, rmattr
 *         | query    every call that only looks: read, stat, seek,
 *                    list, getattr, listattr, statfs
 *   ERR   = an errno name (EIO ENOSPC ETIMEDOUT EBADMSG EUCLEAN ENOMEM
 *           EROFS EAGAIN EBUSY EINTR EACCES EPERM EDQUOT EFBIG ENOTCONN
 *           ECONNRESET EHOSTUNREACH ENODEV ENXIO ESTALE) or a positive number
 *   DURATION = N followed by ns, us, ms or s (a bare N means ms)
 *
 * Examples:
 *   faulty::mem:                        no faults (also faulty:none:mem:)
 *   faulty:nth=5:mem:                   the 5th call fails with EIO
 *   faulty:op=write+truncate,errno=ENOSPC:dir:/tmp/s
 *                                       every write and truncate fails
 *   faulty:p=0.01,seed=42:rocksdb:/tmp/s
 *                                       1% of calls fail, same ones each run
 *   faulty:op=read,delay=50ms:mem:      every read is 50 ms late
 *   faulty:op=write,after=10,count=2,errno=EIO;op=sync,delay=1s:mem:
 *                                       writes 11 and 12 fail; syncs are slow
 *
 * How a call meets the rules. Every rule watching the call counts it
 * (its own counter, starting at 0 when the plan is set). The call is in a
 * rule's window when the count is past `after` and the rule has injected
 * fewer than `count` faults (no limit without count=). In the window the
 * rule fires with probability p, drawn from the rule's own generator, so
 * the same plan and the same sequence of calls fail the same calls every
 * run. nth=N is short for after=N-1,count=1 and cannot be combined with
 * after=, count= or p=.
 *
 * When a rule fires: if it has delay=, the call sleeps first; unless it has
 * delay= without errno=, the call then fails with the rule's errno. Rules
 * are consulted in order and the first failing rule decides the errno;
 * later rules still count the call but do not fire on it. A failed call
 * never reaches the inner store, so it changes nothing. The sleep happens
 * without any lock held, so other threads' calls go on meanwhile.
 *
 * Which calls count: every call of objstore.h made on the faulty store,
 * once each, except objstore_open(), objstore_close() and objstore_info(),
 * which never fail by plan. objstore_punch() counts once as "punch" even
 * when the inner store has no punch of its own. The front end's argument
 * checks (id 0, read-only store, ranges) fail before the call gets here
 * and do not count.
 *
 * Transactions: each step of a commit counts as one call of the step's
 * kind (create, remove, write, truncate, setattr, rmattr); the commit
 * itself does not count. When the inner store claims
 * OBJSTORE_CAP_ATOMIC_TXN, faults are decided for every step first; if
 * any step is to fail, the commit fails before anything is forwarded (the
 * inner store is untouched), else the whole transaction goes to the inner
 * store's commit, and stays all or nothing. Without that flag the steps
 * are applied one by one, and a fault in step k leaves steps 1..k-1
 * applied, just as the inner store would.
 *
 * Capabilities, UUID and format version are the inner store's: faulty
 * promises exactly what the store under it promises.
 *
 * Errors of objstore_open() for faulty: URIs: -EINVAL for a malformed
 * SPEC (the message names the term), a missing ':' before the inner URI or
 * an empty inner URI; anything the inner objstore_open() returns.
 */
#ifndef MIXFS_OBJSTORE_FAULTY_H
#define MIXFS_OBJSTORE_FAULTY_H

#include <stdbool.h>
#include <stdint.h>

#include "objstore/objstore.h"

/* The calls faulty: tells apart, for op= and for the counters. */
enum objstore_faulty_op {
	OBJSTORE_FAULTY_CREATE,
	OBJSTORE_FAULTY_CREATE_FRESH,
	OBJSTORE_FAULTY_REMOVE,
	OBJSTORE_FAULTY_READ,
	OBJSTORE_FAULTY_WRITE,
	OBJSTORE_FAULTY_TRUNCATE,
	OBJSTORE_FAULTY_PUNCH,
	OBJSTORE_FAULTY_STAT,
	OBJSTORE_FAULTY_LIST,
	OBJSTORE_FAULTY_GETATTR,
	OBJSTORE_FAULTY_SETATTR,
	OBJSTORE_FAULTY_RMATTR,
	OBJSTORE_FAULTY_LISTATTR,
	OBJSTORE_FAULTY_STATFS,
	OBJSTORE_FAULTY_SYNC,
	OBJSTORE_FAULTY_SEEK,
	OBJSTORE_FAULTY_NOPS
};

/* Counters since the store was opened or the counters were reset. */
struct objstore_faulty_counters {
	uint64_t calls[OBJSTORE_FAULTY_NOPS];	/* calls seen, per op */
	uint64_t faults[OBJSTORE_FAULTY_NOPS];	/* calls failed, per op */
	uint64_t total_calls;			/* sum of calls[] */
	uint64_t total_faults;			/* sum of faults[] */
	uint64_t delayed;			/* calls that slept */
	uint64_t down_faults;	/* of total_faults: failed while down */
};

/* Name of @op as OPS spells it ("create_fresh"), or "?" out of range. */
const char *objstore_faulty_op_name(enum objstore_faulty_op op);

/* True if @s was opened from a faulty: URI. */
bool objstore_is_faulty(const struct objstore *s);

/*
 * Replace the fault plan of the faulty store @s with @spec (grammar above;
 * NULL or "" means no faults). The new rules start counting from zero; the
 * counters below are kept. The plan is parsed before anything changes: on
 * -EINVAL (malformed spec, message in @err) the old plan stays. Safe to
 * call while other threads use the store: each call sees the old plan or
 * the new one. Errors: -EINVAL (also when @s is not a faulty store),
 * -ENOMEM.
 */
int objstore_faulty_set_plan(struct objstore *s, const char *spec,
			     struct mixfs_err *err);

/*
 * Take the store down or bring it back. While down, every counted call
 * sleeps for the down delay (0 unless set below) and then fails with -EIO,
 * whatever the plan says, and never reaches the inner store; the plan's
 * rules do not count calls made while down. Bringing the store back up
 * lets calls through again, the plan's counters where they were: a store
 * that went away and came back. Returns -EINVAL if @s is not faulty.
 */
int objstore_faulty_set_down(struct objstore *s, bool down);

/* How long a call waits before failing while the store is down (a store
 * that times out rather than refusing at once). Default 0. */
int objstore_faulty_set_down_delay(struct objstore *s, uint64_t delay_ns);

/* Copy the counters into *@out. Returns -EINVAL if @s is not faulty. */
int objstore_faulty_counters(struct objstore *s,
			     struct objstore_faulty_counters *out);

/* Set every counter to zero (the plan's own rule counters are kept). */
int objstore_faulty_reset_counters(struct objstore *s);

/*
 * The store under @s, for a test that wants to look at the data without
 * going through the faults. Owned by @s: do not close it; valid until
 * objstore_close(@s). NULL if @s is not faulty.
 */
struct objstore *objstore_faulty_inner(struct objstore *s);

#endif
