/*
 * objstore_rocksdb.h - sharing the rocksdb: backend's database.
 *
 * A driver that keeps its own metadata in RocksDB (tablefs) opens the store
 * by URI as usual and then asks for the database handle, so metadata and
 * file data live in one database with one write-ahead log.
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

/*
 * The RocksDB database behind @s, or NULL if @s is not a rocksdb: store.
 * The handle stays owned by the store and is valid until objstore_close().
 * Callers may read and write keys outside the backend's prefix with it.
 */
rocksdb_t *objstore_rocksdb_handle(struct objstore *s);

#endif
