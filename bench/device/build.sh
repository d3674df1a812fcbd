#!/usr/bin/env bash
# Builds liblim, the example and the Node addon on the GPU machine, which has no network: CMake is driven
# directly (cmake-js would download Node's headers), with the Node-API headers that bench/device/pack.sh put
# in .carry/node-api. All cores, from scratch (a build folder kept from another generated set would link
# stale objects); the generated folder is the argument (default generated/).
#
#   bash bench/device/build.sh [generated-dir] [build-dir]
set -euo pipefail
cd "$(dirname "$0")/../.."
generated=$(realpath "${1:-generated}")
build=${2:-build}
rm -rf "$build"
cmake -S runtime -B "$build" -DCMAKE_BUILD_TYPE=Release -DLIM_GENERATED_DIR="$generated" \
  -DCMAKE_JS_INC="$PWD/.carry/node-api" -DCMAKE_JS_SRC="" -DCMAKE_JS_LIB="" > "$build.configure.log"
if ! cmake --build "$build" -j "$(nproc)" > "$build.build.log" 2>&1; then
  grep -E "error|Error" "$build.build.log" | head -20
  echo "the build failed: $build.build.log has the whole log" >&2
  exit 1
fi
echo "built $build from $generated"
