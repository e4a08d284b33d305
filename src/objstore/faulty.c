/* faulty.c - the faulty: backend (not yet written). */
#include "objstore/backend.h"

#include <errno.h>

static int faulty_store_open(const char *rest, unsigned flags, struct objstore **out,
		     struct mixfs_err *err)
{
	(void)rest; (void)flags; (void)out;
	return mixfs_err_set(err, -ENOTSUP, "faulty: backend not built");
}

const struct objstore_ops objstore_faulty_ops = {
	.version = 1,
	.scheme = "faulty",
	.open = faulty_store_open,
};
