/* drivers.c - the filesystem drivers built into the mixfs command. */
#include <string.h>

#include "fs/tablefs/tablefs.h"

const struct fsd_driver *const fsd_drivers[] = {
	&tablefs_driver,
	NULL,
};

const struct fsd_driver *fsd_driver_find(const char *name)
{
	for (size_t i = 0; fsd_drivers[i]; i++)
		if (!strcmp(fsd_drivers[i]->name, name))
			return fsd_drivers[i];
	return NULL;
}
