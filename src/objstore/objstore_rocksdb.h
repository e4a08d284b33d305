/*
 * objstore_rocksdb.h - sharing the rocksdb: backend's database.
 *
 * A driver that keeps its own metadata in RocksDB (tablefs) opens the store
 * by URI as usual and then asks for the database handle, so metadata and
 * file data live in one database with one write-ahead log.
 *
 * URI: rocksdb:PATH[?size=N][&chunk=N]
 *   size=N   capacity in bytes (K/M/G/T suffixes). Recorded in the store
 *            and kept until another open gives a new size=. Without it
 *            statfs reports the host filesystem's free space plus the bytes
 *            the store holds.
 *   chunk=N  bytes of object data per RocksDB key (4K to 1M, a power of
 *            two), chosen when the store is created and fixed thereafter;
 *            default OBJSTORE_ROCKSDB_CHUNK. Ignored when opening an
 *            existing store.
 *
 * Key space: every key the backend writes begins with the byte 'o'. Keys
 * beginning with any other byte belong to the database's other users; the
 * backend never reads, counts or deletes them.
 */
#ifndef MIXFS_OBJSTORE_ROCKSDB_H
#define MIXFS_OBJSTORE_ROCKSDB_H

#include <rocksdb/c.h>

#include "objstore/objstore.h"

/* The first byte of every key the rocksdb: backend owns. */
#define OBJSTORE_ROCKSDB_PREFIX 'o'

/* Default bytes of object data per key (see rocksdb.c for the figures). */
#define OBJSTORE_ROCKSDB_CHUNK (64 * 1024)

/*
 * The RocksDB database behind @s, or NULL if @s is not a rocksdb: store.
 * The handle stays owned by the store and is valid until objstore_close().
 * Callers may read and write keys outside the backend's prefix with it.
 */
rocksdb_t *objstore_rocksdb_handle(struct objstore *s);

/*
 * A new copy of the RocksDB options the backend opens its database with
 * (create_if_missing off), for tools that want to compare against RocksDB
 * itself on equal terms. The caller frees it with rocksdb_options_destroy().
 * Returns NULL when out of memory.
 */
rocksdb_options_t *objstore_rocksdb_options(void);

#endif
