#!/usr/bin/env bash
# Runs on the GPU machine, over a copy of the working tree: unpacks what travelled in .carry (node, the
# node_modules and build/ archives), then the named sections, logging everything under $OUT.
#
#   bash bench/device/suite.sh tests sanitize bench-decode
#
# Prepare .carry here first with bench/device/pack.sh.
set -uo pipefail
OUT=${OUT:-/tmp/lim-out}
mkdir -p "$OUT"
if [ -f .carry/node.xz ]; then
  mkdir -p /tmp/bin && xz -dc .carry/node.xz > /tmp/bin/node && chmod +x /tmp/bin/node && export PATH=/tmp/bin:$PATH
fi
[ -d node_modules ] || tar -xJf .carry/node_modules.tar.xz
[ -f .carry/build.tar.xz ] && tar -xJf .carry/build.tar.xz
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw,memory.used --format=csv | tee "$OUT/gpu.txt"

status=0
touch /tmp/lim-suite-start
# Copies the result files this run wrote (not the committed ones) to $OUT.
keep_results() { find bench/results -name "$1" -newer /tmp/lim-suite-start -exec cp {} "$OUT/" \; ; }
for section in "$@"; do
  echo "=== $section"
  case "$section" in
    tests)
      node node_modules/vitest/vitest.mjs run test/gpu 2>&1 | tee "$OUT/gpu-tests.log" || status=1
      ;;
    sanitize)
      # A reduced suite (batch context head_dim Hq Hkv budget): a split ragged batch with a real selection,
      # an unsplit batch where every request keeps all tokens, G = 1, and head dim 256 with budget 1024.
      for tool in memcheck racecheck; do
        for shape in "3 700 128 32 8 256" "40 60 128 32 8 256" "2 300 64 4 4 128" "1 2000 256 16 2 1024"; do
          echo "--- $tool: lim_example $shape"
          compute-sanitizer --tool "$tool" --error-exitcode 9 build/lim_example $shape 2>&1 | tail -4 | tee -a "$OUT/sanitizer.log" || status=1
        done
      done
      ;;
    bench-decode)
      PYTHONUNBUFFERED=1 python3 bench/decode_attention.py 2>&1 | tee "$OUT/bench-decode.log" || status=1
      keep_results "decode_attention-*.json"
      ;;
    bench-selection)
      PYTHONUNBUFFERED=1 python3 bench/selection.py 2>&1 | tee "$OUT/bench-selection.log" || status=1
      keep_results "selection-*.json"
      ;;
    bench-sparse)
      PYTHONUNBUFFERED=1 python3 bench/sparse_attention.py 2>&1 | tee "$OUT/bench-sparse.log" || status=1
      keep_results "sparse_attention-*.json"
      ;;
    profile-selection)
      # Nsight Compute on the last selection of bench/profile_selection.py: durations, stall reasons, hot lines.
      ncu --target-processes all --kernel-name regex:"topk|union" --launch-skip 4 --launch-count 2 \
        --section SpeedOfLight --section Occupancy --section WarpStateStats --section SourceCounters \
        python3 bench/profile_selection.py > "$OUT/profile-selection.txt" 2>&1 || status=1
      grep -E "topk|union|Duration|Warp Cycles Per Issued|Stall|Achieved Occupancy|Memory Throughput|Compute \(SM\)" "$OUT/profile-selection.txt" | head -80
      ;;
    sweep-decode)
      # Every decode_attention schedule of build/sweep/generated (made here with
      # `bin/lim generate --schedules decode_attention=space ... --out build/sweep/generated`), compiled on
      # this machine's cores, timed beside SDPA.
      cmake -S runtime -B /tmp/sweep -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIM_GENERATED_DIR="$PWD/build/sweep/generated" > "$OUT/sweep-build.log" 2>&1 &&
        cmake --build /tmp/sweep -j "$(nproc)" >> "$OUT/sweep-build.log" 2>&1 || { echo "sweep build failed"; tail -20 "$OUT/sweep-build.log"; status=1; continue; }
      PYTHONUNBUFFERED=1 python3 bench/sweep_decode_attention.py --lib /tmp/sweep/liblim.so --manifest build/sweep/generated/manifest.json 2>&1 | tee "$OUT/sweep-decode.log" || status=1
      keep_results "sweep_decode_attention-*.json"
      ;;
    *)
      echo "unknown section $section" && status=2
      ;;
  esac
done
exit $status
