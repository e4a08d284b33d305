/* dir.c - the dir: backend (not yet written). */
#include "objstore/backend.h"

#include <errno.h>

static int dir_store_open(const char *rest, unsigned flags, struct objstore **out,
		     struct mixfs_err *err)
{
	(void)rest; (void)flags; (void)out;
	return mixfs_err_set(err, -ENOTSUP, "dir: backend not built");
}

const struct objstore_ops objstore_dir_ops = {
	.version = 1,
	.scheme = "dir",
	.open = dir_store_open,
};
