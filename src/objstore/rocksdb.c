/* rocksdb.c - the rocksdb: backend (not yet written). */
#include "objstore/backend.h"

#include <errno.h>
#include "objstore/objstore_rocksdb.h"

static int rocksdb_store_open(const char *rest, unsigned flags, struct objstore **out,
		     struct mixfs_err *err)
{
	(void)rest; (void)flags; (void)out;
	return mixfs_err_set(err, -ENOTSUP, "rocksdb: backend not built");
}

const struct objstore_ops objstore_rocksdb_ops = {
	.version = 1,
	.scheme = "rocksdb",
	.open = rocksdb_store_open,
};
rocksdb_t *objstore_rocksdb_handle(struct objstore *s) { (void)s; return NULL; }
