#!/bin/sh
# k8s-taint.sh - a `mixfs events --exec` hook: taint this Kubernetes node
# NoSchedule while its mixfs filesystem is short of space or has lost its
# object store, and remove the taint when the trouble clears (space_ok,
# store_available). Pods already running stay; new ones go elsewhere.
#
#   mixfs events /mnt/data --follow --exec /usr/share/mixfs/examples/k8s-taint.sh
#
# Each condition has its own taint key, so space coming back does not clear
# a store outage: mixfs-space=low, mixfs-store=unavailable, and
# mixfs-readonly=true (which only a person removes, after fsck). NODE_NAME
# overrides the node name (default: this host's name, as the kubelet
# registers it by default).
set -eu

node=${NODE_NAME:-$(hostname)}
case "${MIXFS_EVENT_TYPE:-}" in
space_low)
	exec kubectl taint nodes "$node" mixfs-space=low:NoSchedule --overwrite ;;
space_ok)
	exec kubectl taint nodes "$node" mixfs-space:NoSchedule- ;;
store_unavailable)
	exec kubectl taint nodes "$node" mixfs-store=unavailable:NoSchedule --overwrite ;;
store_available)
	exec kubectl taint nodes "$node" mixfs-store:NoSchedule- ;;
remounted_ro)
	exec kubectl taint nodes "$node" mixfs-readonly=true:NoSchedule --overwrite ;;
*)
	exit 0 ;;
esac
