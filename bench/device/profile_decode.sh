export OUT
mkdir -p /tmp/bin && xz -dc .carry/node.xz > /tmp/bin/node && chmod +x /tmp/bin/node && export PATH=/tmp/bin:$PATH
[ -d node_modules ] || tar -xJf .carry/node_modules.tar.xz
node bin/lim generate --head-dims 128 --group-sizes 4 --dtypes bf16 --budgets 2048 --out /tmp/gen > $OUT/gen.log 2>&1 || tail $OUT/gen.log
sed -i 's/-Xptxas=-v/-Xptxas=-v -lineinfo/' runtime/CMakeLists.txt
bash bench/device/build.sh /tmp/gen build > $OUT/build.log 2>&1 || tail $OUT/build.log
for shape in "8 32768" "1 32768"; do set -- $shape
  ncu --kernel-name regex:decode_attention --launch-skip 2 --launch-count 1 --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section SchedulerStats \
    python3 bench/profile_decode.py --batch $1 --context $2 > $OUT/ncu-$1.txt 2>&1
  grep -E "Duration|Memory Throughput|DRAM Throughput|Registers Per|Block Size|Grid Size|Achieved Occupancy|Theoretical Occupancy|Waves Per SM|Warp Cycles Per Issued|Issued Warp|No Eligible|Stall|Dynamic Shared|Block Limit" $OUT/ncu-$1.txt | head -40
  ncu --kernel-name regex:decode_attention --launch-skip 2 --launch-count 1 --section SourceCounters --page source --print-source sass --csv python3 bench/profile_decode.py --batch $1 --context $2 > $OUT/sass-$1.csv 2>&1
done
ls -la $OUT
