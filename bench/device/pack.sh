#!/usr/bin/env bash
# Packs what the GPU machine needs but cannot make itself into .carry/ (ignored by git): node, the
# node_modules (without the TypeScript compiler) and the build outputs (liblim.so, the addon, the
# example). Run here after `npm run build`; delete .carry/node_modules.tar.xz after changing packages.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .carry
[ -f .carry/node.xz ] || xz -T2 -6 -c "$(command -v node)" > .carry/node.xz
# Everything but the TypeScript compiler (type-checking happens here, not there).
[ -f .carry/node_modules.tar.xz ] || tar --exclude=node_modules/typescript -cf - node_modules | xz -T2 -6 > .carry/node_modules.tar.xz
tar -cf - build/liblim.so build/lim_addon.node build/lim_example | xz -T2 -6 > .carry/build.tar.xz
du -sh .carry/*
