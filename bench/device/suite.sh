#!/usr/bin/env bash
# Runs on the GPU machine, over a copy of the working tree: unpacks what travelled in .carry (node and the
# node_modules), then the named sections, logging everything under $OUT.
#
#   bash bench/device/suite.sh build tests sample sanitize bench
#   bash bench/device/suite.sh build tensor-parallel     (on nvidia-h200-x2)
#   bash bench/device/suite.sh build python              (the Python package's tests)
#   bash bench/device/suite.sh build ab                  (against the tree of pack.sh --base REV)
#
# Prepare .carry here first with bench/device/pack.sh, and name .carry in the device tool's carry list.
set -uo pipefail
OUT=${OUT:-/tmp/lim-out}
mkdir -p "$OUT"
if [ -f .carry/node.xz ]; then
  mkdir -p /tmp/bin && xz -dc .carry/node.xz > /tmp/bin/node && chmod +x /tmp/bin/node && export PATH=/tmp/bin:$PATH
fi
[ -d node_modules ] || tar -xJf .carry/node_modules.tar.xz
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw,memory.used --format=csv | tee "$OUT/gpu.txt"

# Generates every top-k schedule of TOPK_SCHEDULES (the first is dispatched by default) beside the default
# kernels and builds them, logging to $1; fails, saying why, when a schedule is refused or the build breaks.
build_topk_schedules() {
  node bin/lim generate --schedules "topk=${TOPK_SCHEDULES:-t512_i4_c8192_b4_x1+t512_i4_c16384_b1_x2+t512_i4_c16384_b2_x1+t512_i4_c8192_b8_x1}" > "$1" 2>&1 &&
    bash bench/device/build.sh generated build >> "$1" 2>&1 || { tail -5 "$1"; return 1; }
}

status=0
for section in "$@"; do
  echo "=== $section"
  case "$section" in
    build)
      # liblim, the example and the addon from generated/, on all cores.
      bash bench/device/build.sh generated build 2>&1 | tee "$OUT/build.log" || status=1
      ;;
    sample)
      # A sample of the shapes beyond the default set (with the ones the tests name), generated, built and put through the GPU tests:
      # head dims 80, 96 and 192 with group sizes 5, 7 and 16 (the lanes of a row not a power of two, and
      # heads split across parts of a block). It replaces generated/ and build/ of this copy: run it last.
      node bin/lim generate --head-dims 64,80,96,128,192,256 --group-sizes 1,4,5,7,16 --dtypes bf16 2>&1 | tail -2 | tee "$OUT/sample.log"
      bash bench/device/build.sh generated build 2>&1 | tee -a "$OUT/sample.log" || status=1
      node node_modules/vitest/vitest.mjs run test/gpu 2>&1 | tee "$OUT/sample-tests.log" || status=1
      ;;
    topk-schedules)
      # Top-k schedules side by side (cluster sizes, threads, key caches): generated with every schedule of
      # TOPK_SCHEDULES, built, put through the selection tests, then each timed on the benchmark's shapes.
      # It replaces generated/ and build/ of this copy: run it last.
      build_topk_schedules "$OUT/topk-schedules.log" || exit 1
      node node_modules/vitest/vitest.mjs run test/gpu/selection.test.ts 2>&1 | tee "$OUT/topk-tests.log" | grep -E "✓|×|FAIL|Tests|passed|failed" | tail -40 || status=1
      python3 bench/selection.py --topk-only --topk-variants --out "$OUT" 2>&1 | tee "$OUT/topk-bench.log" || status=1
      ;;
    profile-topk)
      # The top-k schedules of TOPK_SCHEDULES for budget TOPK_K (2048): each timed in rank and position order,
      # then Nsight Compute's launch, occupancy (clusters included), throughput and stall statistics per variant.
      build_topk_schedules "$OUT/profile-topk.log" || exit 1
      k=${TOPK_K:-2048}
      for v in $(cd bench && python3 -c "from selection import topk_variants_of; print(' '.join(topk_variants_of($k)))"); do
        python3 bench/profile_topk.py --variant "$v" --k "$k" --time 2>&1 | tee -a "$OUT/profile-topk.log" || status=1
        ncu --clock-control none --kernel-name regex:topk --launch-skip 3 --launch-count 1 --section SpeedOfLight --section LaunchStats --section Occupancy \
          --section WarpStateStats python3 bench/profile_topk.py --variant "$v" --k "$k" > "$OUT/ncu-$v.txt" 2>&1 || status=1
        grep -E "Duration|Cluster|Achieved Occupancy|Theoretical Occupancy|Block Limit|Compute \(SM\) Throughput|Warp Cycles Per Issued" "$OUT/ncu-$v.txt" | sed "s/^/$v /"
      done
      ;;
    probe-topk)
      # Where one rank-order top-k launch of each issue-12 shape spends its time (bench/probes/topk_phases.py): the
      # tuned topk kernels generated into a copy, stamped, built apart (genT/buildT), and run.
      node bin/lim generate --head-dims 128 --group-sizes 4 --dtypes bf16 --caches contiguous --kv-dtypes auto --out /tmp/genT > "$OUT/probe-topk.log" 2>&1 &&
        python3 bench/probes/topk_phases.py patch /tmp/genT >> "$OUT/probe-topk.log" 2>&1 &&
        bash bench/device/build.sh /tmp/genT /tmp/buildT >> "$OUT/probe-topk.log" 2>&1 || { tail -5 "$OUT/probe-topk.log"; status=1; continue; }
      python3 bench/probes/topk_phases.py run /tmp/buildT/liblim.so /tmp/genT 2>&1 | tee -a "$OUT/probe-topk.log" || status=1
      ;;
    retune-topk)
      # After a change to the top-k kernel: the kernels of head dim 128 (bf16, contiguous) generated and built, the
      # selection tests, the tuning sweep of the top-k alone (the database comes back in $OUT), then generated
      # with it and with every union schedule of UNION_SCHEDULES (the first dispatched), built and tested again,
      # and the selection timed beside PyTorch (B 1 and 8, 32K and 128K, each union schedule beside the others).
      small="--head-dims 128 --dtypes bf16 --kv-dtypes auto --caches contiguous"
      unions="lessismore_union=${UNION_SCHEDULES:-t512_i8_b8+t1024_i4_b8+t512_i4_b8+t1024_i8_b4+t1024_i8_b2+t1024_i8_b1}"
      for stage in heuristic tuned; do
        schedules=()
        if [ $stage = tuned ]; then
          node bin/lim tune --kernels topk --retune --jobs "$(nproc)" --work /tmp/lim-tune 2>&1 | tail -20 | tee "$OUT/tune-topk.log"
          cp tuning/nvidia-h200.json "$OUT/" || exit 1
          schedules=(--schedules "$unions")
        fi
        { node bin/lim generate $small "${schedules[@]}" && bash bench/device/build.sh generated build; } > "$OUT/build-$stage.log" 2>&1 || { tail -5 "$OUT/build-$stage.log"; exit 1; }
        node node_modules/vitest/vitest.mjs run test/gpu/selection.test.ts > "$OUT/selection-tests-$stage.log" 2>&1
        rc=$?
        grep -E "Tests |×|FAIL" "$OUT/selection-tests-$stage.log" | head -20
        [ $rc -eq 0 ] || exit 1
      done
      python3 bench/selection.py --quick --union-variants --out "$OUT" 2>&1 | tee "$OUT/selection-bench.log" || status=1
      ;;
    ab)
      # This tree's build (build/: run the build section first) timed against the tree that `bench/device/pack.sh
      # --base REV` packed, built apart (/tmp/base, /tmp/buildBase), in one process through this tree's Python
      # package (bench/ab.py; the two must share the C ABI). AB_ARGS adds bench/ab.py's flags.
      [ -f .carry/base.tar.xz ] || { echo "no .carry/base.tar.xz: run bench/device/pack.sh --base REV first"; status=1; continue; }
      rm -rf /tmp/base && mkdir -p /tmp/base && tar -xJf .carry/base.tar.xz -C /tmp/base && ln -s "$PWD/.carry" /tmp/base/.carry
      (cd /tmp/base && bash bench/device/build.sh generated /tmp/buildBase) > "$OUT/ab-build.log" 2>&1 || { tail -5 "$OUT/ab-build.log"; status=1; continue; }
      python3 bench/ab.py base=/tmp/buildBase/liblim.so head=build/liblim.so ${AB_ARGS:-} 2>&1 | tee "$OUT/ab.log" || status=1
      ;;
    decode-quick)
      python3 bench/decode_attention.py --quick --out "$OUT" 2>&1 | tee "$OUT/decode-quick.log" || status=1
      ;;
    tests)
      node node_modules/vitest/vitest.mjs run test/gpu 2>&1 | tee "$OUT/gpu-tests.log" || status=1
      ;;
    sanitize)
      # A reduced suite (batch context head_dim Hq Hkv budget), each run with 3 CUDA-graph replays of the
      # attention (the split counters must come back to 0): a split ragged batch with a real selection,
      # an unsplit batch where every request keeps all tokens, G = 1, head dim 256 with budget 1024, and one
      # request of 4 heads at 4000, 9000 and 30000 tokens, whose rows the tuned top-k ranks in thread-block
      # clusters of 2, 3 and 8 (length / rows 1000, 2250 and 7500: tuning/nvidia-h200.json's buckets). The
      # union runs a cluster per request in every selection, and at 30000 tokens its warps read their
      # positions again instead of holding them in registers.
      for tool in memcheck racecheck synccheck; do
        for shape in "3 700 128 32 8 256" "40 60 128 32 8 256" "2 300 64 4 4 128" "1 2000 256 16 2 1024" "1 4000 128 4 1 512" "1 9000 128 4 1 512" "1 30000 128 4 1 512"; do
          echo "--- $tool: lim_example $shape"
          # The first hazards or errors with their kernels and offsets, and the summary: a finding can then be
          # located from this log alone (only the summary was kept until bench/NOTES.md section 25 needed more).
          compute-sanitizer --tool "$tool" --error-exitcode 9 --print-limit 4 build/lim_example $shape > /tmp/sanitizer-one.log 2>&1 || status=1
          { grep -m 12 -E "Error|between|access at|Invalid|Barrier" /tmp/sanitizer-one.log | cut -c1-240; tail -2 /tmp/sanitizer-one.log; } | tee -a "$OUT/sanitizer.log"
        done
      done
      # lim_example reads contiguous caches in full; the staged rows (paged caches, index lists, FP8) are the
      # Python checks' path. Only the attention kernels are instrumented (PyTorch's own are not ours to check).
      for check in paged_caches fp8_caches; do
        echo "--- racecheck: python/tests/$check.py (decode attention kernels)"
        compute-sanitizer --tool racecheck --error-exitcode 9 --print-limit 4 --kernel-name kns=decode_attention python3 "python/tests/$check.py" > /tmp/sanitizer-one.log 2>&1 || status=1
        { grep -m 12 -E "Error|between|access at" /tmp/sanitizer-one.log | cut -c1-240; tail -2 /tmp/sanitizer-one.log; } | tee -a "$OUT/sanitizer.log"
      done
      ;;
    bench)
      # Every kernel benchmark beside PyTorch, with the run's report (report.md, bandwidth.svg).
      node bin/lim bench --out "$OUT/bench" 2>&1 | tee "$OUT/bench.log" || status=1
      ;;
    tune)
      # The autotuning sweep of the default matrix; the database comes back in $OUT.
      node bin/lim tune --work /tmp/lim-tune 2>&1 | tee "$OUT/tune.log" || status=1
      cp tuning/*.json "$OUT/" 2>/dev/null
      cp /tmp/lim-tune/build.log /tmp/lim-tune/worker.log "$OUT/" 2>/dev/null
      ;;
    profile-selection)
      # Nsight Compute on the last selection of bench/profile_selection.py: durations, stall reasons, hot lines.
      ncu --clock-control none --target-processes all --kernel-name regex:"topk|union" --launch-skip 4 --launch-count 2 \
        --section SpeedOfLight --section Occupancy --section WarpStateStats --section SourceCounters \
        python3 bench/profile_selection.py > "$OUT/profile-selection.txt" 2>&1 || status=1
      grep -E "topk|union|Duration|Warp Cycles Per Issued|Stall|Achieved Occupancy|Memory Throughput|Compute \(SM\)" "$OUT/profile-selection.txt" | head -80
      ;;
    profile-decode)
      # Nsight Compute on one decode attention launch (B 8 and B 1, 32K, D 128, G 4, bf16): occupancy, issue
      # and stall statistics, and every SASS instruction with its stall samples (sass-<B>.csv, summarised by
      # bench/sass_summary.py). PROFILE_ARGS adds profile_decode.py flags, e.g. "--context 4096 --pages 16" (a paged
      # cache at 4K, bench/NOTES.md section 21) or "--list 2048" (sparse attention over a shared list).
      for batch in 8 1; do
        ncu --clock-control none --kernel-name regex:decode_attention --launch-skip 2 --launch-count 1 --section SpeedOfLight --section Occupancy \
          --section LaunchStats --section WarpStateStats --section SchedulerStats python3 bench/profile_decode.py --batch $batch ${PROFILE_ARGS:-} > "$OUT/ncu-$batch.txt" 2>&1 || status=1
        grep -E "Duration|DRAM Throughput|Registers Per|Grid Size|Achieved Occupancy|Issued Warp|Warp Cycles Per Issued" "$OUT/ncu-$batch.txt"
        ncu --clock-control none --kernel-name regex:decode_attention --launch-skip 2 --launch-count 1 --section SourceCounters --page source --print-source sass --csv \
          python3 bench/profile_decode.py --batch $batch ${PROFILE_ARGS:-} > "$OUT/sass-$batch.csv" 2>&1 || status=1
        python3 bench/sass_summary.py "$OUT/sass-$batch.csv" | tee "$OUT/sass-$batch-summary.txt"
      done
      ;;
    decode)
      # lim decode for qwen3-8b at 8K, 32K and 128K context, B 1 and 8, all three policies (B 8 at 128K
      # needs ~160 GB of caches: the runtime refuses it, saying so).
      for context in 8192 32768 131072; do
        for batch in 1 8; do
          node bin/lim decode --preset qwen3-8b --context $context --batch $batch --policy full,lessismore,tidaldecode --json \
            > "$OUT/decode-${context}-${batch}.json" 2> "$OUT/decode-${context}-${batch}.err" || { status=1; tail -3 "$OUT/decode-${context}-${batch}.err"; }
        done
      done
      node -e 'const fs=require("fs");for(const f of fs.readdirSync(process.argv[1]).filter(f=>/^decode-.*json$/.test(f)).sort()){try{const r=JSON.parse(fs.readFileSync(process.argv[1]+"/"+f));for(const p of r.reports)console.log(f,p.policy,p.attentionUsPerStep.toFixed(1),"us",(p.speedupOverFull||0).toFixed(2)+"x",JSON.stringify(p.recall||[]),JSON.stringify(p.layerErrors||[]))}catch(e){console.log(f,"no result")}}' "$OUT"
      ;;
    python)
      # The Python package on one GPU: the custom operators (values, torch.compile, CUDA graphs, errors) and
      # the transformers backend on a small random Qwen3.
      python3 python/tests/custom_ops.py 2>&1 | tee "$OUT/custom-ops.log" || status=1
      python3 python/tests/transformers_backend.py 2>&1 | grep -v "it/s" | tee "$OUT/transformers-backend.log" || status=1
      ;;
    paged)
      # Paged caches: every paged function against float64 (NHD and HND, pages of 1, 16, 64, lists padded with -1,
      # bad tables, a CUDA graph replayed over changed tables), then paged beside contiguous and SDPA timings.
      python3 python/tests/paged_caches.py 2>&1 | tee "$OUT/paged-caches.log" || status=1
      python3 bench/decode_attention.py --quick --pages 16,1 --out "$OUT" 2>&1 | tee "$OUT/paged-bench.log" || status=1
      for cache in contiguous paged16; do
        node bin/lim decode --cache $cache --steps 32 --policy full,lessismore 2>&1 | tee -a "$OUT/paged-decode.log" || status=1
      done
      ;;
    fp8)
      # FP8 caches: every lim_fp8_* function against float64 of the dequantised caches (scales per tensor and per
      # KV head, saturation, paged, lists, writes bit for bit), then FP8 beside bf16 and SDPA, then lim decode on FP8 caches.
      python3 python/tests/fp8_caches.py 2>&1 | tee "$OUT/fp8-caches.log" || status=1
      python3 bench/decode_attention.py --quick --fp8 --out "$OUT" 2>&1 | tee "$OUT/fp8-bench.log" || status=1
      for cache in contiguous paged16; do
        node bin/lim decode --cache $cache --kv-dtype fp8 --steps 32 --policy full,lessismore 2>&1 | tee -a "$OUT/fp8-decode.log" || status=1
      done
      ;;
    e2e)
      # A Qwen3-8B-shaped transformers model decoding at 8K-128K, B 1 and 8: SDPA vs ours vs LessIsMore vs TidalDecode.
      python3 bench/e2e_decode.py --out "$OUT" 2>&1 | grep -v "it/s" | tee "$OUT/e2e.log" || status=1
      ;;
    tensor-parallel)
      # On a machine of two or more GPUs: the tensor-parallel selection's rank test (100 random steps), the
      # hand-sharded layer example and the benchmark, one process per GPU through NCCL. NVLink multicast stays
      # off (the device tool's rule for shared hosts), also for the processes torch.distributed.run starts.
      export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
      gpus=$(nvidia-smi -L | wc -l)
      run="python3 -m torch.distributed.run --standalone --nproc-per-node $gpus"
      $run python/tests/tensor_parallel_ranks.py --steps 100 2>&1 | tee "$OUT/tp-ranks.log" || status=1
      $run python/examples/tensor_parallel_layer.py 2>&1 | tee "$OUT/tp-layer.log" || status=1
      $run bench/tensor_parallel.py --out "$OUT" 2>&1 | tee "$OUT/tp-bench.log" || status=1
      ;;
    host-overhead)
      node --import tsx bench/host_overhead.ts 2>&1 | tee "$OUT/host-overhead.log" || status=1
      ;;
    *)
      echo "unknown section $section" && status=2
      ;;
  esac
done
exit $status
