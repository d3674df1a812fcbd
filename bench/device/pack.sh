#!/usr/bin/env bash
# Packs what the GPU machine needs but cannot make itself into .carry/ (ignored by git; name it in the
# device tool's carry list): node, the node_modules (without the TypeScript compiler) and the Node-API
# headers the addon compiles against. The library and the addon are built there (bench/device/build.sh,
# 16 cores). Delete .carry/node_modules.tar.xz after changing packages.
#
#   bash bench/device/pack.sh [--base REV]
#
# --base REV also packs the tree at git revision REV (.carry/base.tar.xz), which suite.sh's `ab` section builds and
# times against this tree's build.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .carry
rm -f .carry/base.tar.xz # a base is packed for one A/B: an older one would be timed as this one's
if [ "${1:-}" = "--base" ]; then
  [ -n "${2:-}" ] || { echo "--base needs a git revision, e.g. --base HEAD~1" >&2; exit 2; }
  if ! git archive --format=tar "$2" | xz -T2 -6 > .carry/base.tar.xz.tmp; then
    rm -f .carry/base.tar.xz.tmp
    echo "--base $2: git cannot archive that revision" >&2
    exit 2
  fi
  mv .carry/base.tar.xz.tmp .carry/base.tar.xz
  echo "packed $(git rev-parse --short "$2") as .carry/base.tar.xz"
fi
mkdir -p .carry/node-api
[ -f .carry/node.xz ] || xz -T2 -6 -c "$(command -v node)" > .carry/node.xz
# Everything but the TypeScript compiler (type-checking happens here, not there) and node_modules/.cache,
# where .ci/run (or CI=true) keeps the build test's nvcc results: this machine's, hundreds of MB after a run.
[ -f .carry/node_modules.tar.xz ] || tar --exclude=node_modules/typescript --exclude=node_modules/.cache -cf - node_modules | xz -T2 -6 > .carry/node_modules.tar.xz
# The four headers of Node-API (node-addon-api includes them); the installed Node's own.
include=$(dirname "$(command -v node)")/../include/node
for h in node_api.h node_api_types.h js_native_api.h js_native_api_types.h; do cp "$include/$h" .carry/node-api/; done
du -sh .carry/*
