#!/bin/bash
# docs/benchmarks.md "fetch-webrtc: no_history and the git cache": disk of src/.git and the
# git cache after a fetch of a 30-commit src (200 KB of random data per commit) pinned at its
# tip, with real depot_tools (DEPOT_TOOLS, default /tmp/real-depot-tools; gclient needs httplib2).
# usage: no_history.sh <xtask binary> <label> [true|false (no_history)]
set -e
X=$1; LABEL=$2; NOHIST=$3
B=${TMPDIR:-/tmp}/mobilertc-nohist/$LABEL; rm -rf $B; mkdir -p $B/up
export GIT_AUTHOR_NAME=f GIT_AUTHOR_EMAIL=f@x GIT_COMMITTER_NAME=f GIT_COMMITTER_EMAIL=f@x GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
cd $B/up; git init -q --initial-branch=main src; cd src
mkdir -p build; printf '#!/bin/sh\n' > build/install-build-deps.sh; chmod +x build/install-build-deps.sh
echo "deps = {}" > DEPS
for i in $(seq 1 30); do head -c 200000 /dev/urandom > blob$((i % 5)).bin; git add -A; git commit -qm "c$i"; done
REV=$(git rev-parse HEAD)
cat > $B/webrtc.toml <<T
[webrtc]
url = "file://$B/up/src"
milestone = 120
revision = "$REV"
[depot_tools]
url = "file:///nonexistent"
[checkout]
work_dir = "work"
cache_dir = "cache"
patches_dir = "patches"
no_history = ${NOHIST:-false}
sync_attempts = 1
[targets]
linux = ["x64"]
T
mkdir -p $B/patches
cd $B
env -i PATH=$PATH HOME=$B MOBILERTC_CONFIG=$B/webrtc.toml MOBILERTC_ROOT=1 MOBILERTC_MIN_FREE_GB=0 MOBILERTC_SKIP_INSTALL_DEPS=1 \
  DEPOT_TOOLS=${DEPOT_TOOLS:-/tmp/real-depot-tools} DEPOT_TOOLS_UPDATE=0 VPYTHON_BYPASS="manually managed python not supported by chrome operations" \
  $X fetch-webrtc > $B/out.txt 2>&1 || { tail -20 $B/out.txt; exit 1; }
echo "$LABEL: src/.git $(du -sk work/src/.git | cut -f1) KB, cache $( (du -sk cache 2>/dev/null || echo 0) | cut -f1) KB, commits in src $(git -C work/src rev-list --count HEAD 2>/dev/null)"
