#!/usr/bin/env bash
# quickstart.sh - install what is missing, build mixfs, and say what was built.
set -eu
cd "$(dirname "$0")"
. scripts/deps.sh
mixfs_install_deps
mixfs_build build
echo "Built mixfs in ./build (libraries under build/src)."
