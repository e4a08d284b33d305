#!/bin/sh
# slurm-drain.sh - a `mixfs events --exec` hook: drain this Slurm node when
# its mixfs filesystem runs short of space, loses its object store, or goes
# read-only, so the scheduler stops placing jobs on a node whose storage is
# in trouble. It never resumes the node by itself: a person (or a health
# check) decides that the trouble is over.
#
#   mixfs events /mnt/data --follow \
#       --filter type='space_low|store_unavailable|remounted_ro' \
#       --exec /usr/share/mixfs/examples/slurm-drain.sh
#
# Reads MIXFS_EVENT_TYPE, _MOUNT, _SEQ and the details from the environment;
# the event's JSON line is on stdin (unused here). SLURM_NODE overrides the
# node name (default: this host's name).
set -eu

case "${MIXFS_EVENT_TYPE:-}" in
space_low)
	why="free space below ${MIXFS_EVENT_LOW:-its threshold} (${MIXFS_EVENT_FREE_PCT:-?}% free)" ;;
store_unavailable)
	why="object store unavailable (${MIXFS_EVENT_ERRNO:-error})" ;;
remounted_ro)
	why="remounted read-only" ;;
*)
	exit 0 ;;	# not a reason to drain
esac

node=${SLURM_NODE:-$(hostname)}
exec scontrol update NodeName="$node" State=DRAIN \
	Reason="mixfs ${MIXFS_EVENT_MOUNT:-}: $why (event ${MIXFS_EVENT_SEQ:-?})"
