/*
 * objstore_rados.h - the rados: backend's URI and the two things only it
 * can tell: whose lock a forced open broke, and its RADOS handle.
 *
 * URI: rados:POOL[?conf=PATH&id=USER&keyring=PATH&namespace=NS
 *                 &op_timeout=SECONDS&size=N&piece=N&force=1]
 *   POOL        the RADOS pool; it must exist (the backend never creates
 *               pools: that is the cluster operator's decision).
 *   conf        ceph.conf to read (default: librados's search: $CEPH_CONF,
 *               /etc/ceph/ceph.conf, ...).
 *   id          the cephx user without "client." (default: admin).
 *   keyring     the user's keyring file (default: from the conf).
 *   namespace   the RADOS namespace holding the store (default: none).
 *               Each namespace of a pool is a store of its own.
 *   op_timeout  seconds before a call on a dead or unreachable cluster
 *               fails: connecting (client_mount_timeout), monitor calls
 *               (rados_mon_op_timeout) and OSD ops (rados_osd_op_timeout)
 *               all give up after it, -ETIMEDOUT (default: 10).
 *   size        capacity in bytes (K/M/G/T suffixes), recorded in the store
 *               and kept until another open gives a new size=. Without it
 *               the capacity is the pool's quota (max_bytes) or, where a
 *               Ceph manager runs, the cluster's raw figures; a store on a
 *               cluster that reports neither must be given size=.
 *   piece       bytes of object data per RADOS object (64K to 32M, a power
 *               of two), chosen when the store is created and fixed
 *               thereafter; default OBJSTORE_RADOS_PIECE.
 *   force       1: break the lock of a client that holds the store (after
 *               fencing it off the cluster with a blocklist entry, so that a
 *               client that was only slow cannot write again). Only for a
 *               client known to be dead.
 *
 * Exclusive use: while open, the store holds the RADOS exclusive lock
 * "mixfs" on the object mixfs.super of its namespace. A second open of
 * the same pool and namespace, from this process or any other client,
 * fails -EBUSY naming the holder (its client, address, host and pid).
 *
 * Errors of a dead or unreachable cluster: -ETIMEDOUT after op_timeout
 * (or -EIO, -ENOTCONN, -ESHUTDOWN where librados says so), never a hang.
 */
#ifndef MIXFS_OBJSTORE_RADOS_H
#define MIXFS_OBJSTORE_RADOS_H

#include <rados/librados.h>

#include "objstore/objstore.h"

/* Default bytes of object data per RADOS object (see rados.c). */
#define OBJSTORE_RADOS_PIECE (4u << 20)

/*
 * After an open with force=1 that broke another client's lock: a sentence
 * naming that client ("broke the lock of client.4123 at 127.0.0.1:0/77
 * (host h, pid 12)"). NULL if no lock was broken or @s is not a rados:
 * store. The string is owned by the store, valid until objstore_close().
 */
const char *objstore_rados_broken_lock(struct objstore *s);

/*
 * The RADOS I/O context behind @s (its pool and namespace), or NULL if @s
 * is not a rados: store. Owned by the store and valid until
 * objstore_close(). For tools comparing the backend with librados itself;
 * objects whose names do not begin with "o." or "mixfs." are never read,
 * counted or removed by the backend.
 */
rados_ioctx_t objstore_rados_ioctx(struct objstore *s);

#endif
