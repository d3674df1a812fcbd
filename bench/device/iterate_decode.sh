export OUT
mkdir -p /tmp/bin && xz -dc .carry/node.xz > /tmp/bin/node && chmod +x /tmp/bin/node && export PATH=/tmp/bin:$PATH
[ -d node_modules ] || tar -xJf .carry/node_modules.tar.xz
bash bench/device/build.sh generated build > $OUT/build.log 2>&1 || { tail -20 $OUT/build.log; exit 1; }
node node_modules/vitest/vitest.mjs run test/gpu/decode_attention.test.ts test/gpu/sparse_attention.test.ts > $OUT/gpu-tests.log 2>&1; grep -E "Test Files|Tests " $OUT/gpu-tests.log
python3 bench/decode_attention.py --quick --out $OUT > $OUT/decode-quick.log 2>&1; tail -12 $OUT/decode-quick.log
timeout 200 node bin/lim tune --kernels decode_attention --head-dims 64,128,256 --group-sizes 4 --dtypes bf16,fp16 --jobs 16 --repeats 10 --work /tmp/lim-tune > $OUT/tune.log 2>&1; echo tune rc $?; grep -E "^decode_attention__d128_g4_bf16" $OUT/tune.log | head -8
cp tuning/nvidia-h200.json $OUT/
