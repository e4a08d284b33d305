/* internal.h - what fsd.c and ctl.c share inside the FUSE layer. */
#ifndef MIXFS_FUSE_INTERNAL_H
#define MIXFS_FUSE_INTERNAL_H

#include "fuse/fsd.h"

/* Fill @ll with the driver's table @drv, the control-directory entries
 * wrapped (ctl.c). */
void fsd_ctl_build_ops(struct fuse_lowlevel_ops *ll,
		       const struct fuse_lowlevel_ops *drv);

/* Around the session loop: start the event feed and say "mounted";
 * afterwards say "unmounted" and stop the feed. No-ops without events. */
int fsd_events_mounted(struct fsd_mount *m, struct mixfs_err *err);
void fsd_events_unmounted(struct fsd_mount *m);

#endif
