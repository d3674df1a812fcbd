#!/usr/bin/env bash
# Builds liblim, the example and the Node addon on the GPU machine, which has no network: CMake is driven
# directly (cmake-js would download Node's headers), with the Node-API headers that bench/device/pack.sh put
# in .carry/node-api. All cores; the generated folder is the argument (default generated/).
#
#   bash bench/device/build.sh [generated-dir] [build-dir]
set -euo pipefail
cd "$(dirname "$0")/../.."
generated=$(realpath "${1:-generated}")
build=${2:-build}
cmake -S runtime -B "$build" -DCMAKE_BUILD_TYPE=Release -DLIM_GENERATED_DIR="$generated" \
  -DCMAKE_JS_INC="$PWD/.carry/node-api" -DCMAKE_JS_SRC="" -DCMAKE_JS_LIB="" > "$build.configure.log"
cmake --build "$build" -j "$(nproc)" 2>&1 | grep -E "error|warning: .*(spill|stack)|Error" || true
test -f "$build/liblim.so" && test -f "$build/lim_addon.node"
echo "built $build from $generated"
