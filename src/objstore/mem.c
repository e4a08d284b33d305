/* mem.c - the mem: backend (not yet written). */
#include "objstore/backend.h"

#include <errno.h>

static int mem_store_open(const char *rest, unsigned flags, struct objstore **out,
		     struct mixfs_err *err)
{
	(void)rest; (void)flags; (void)out;
	return mixfs_err_set(err, -ENOTSUP, "mem: backend not built");
}

const struct objstore_ops objstore_mem_ops = {
	.version = 1,
	.scheme = "mem",
	.open = mem_store_open,
};
