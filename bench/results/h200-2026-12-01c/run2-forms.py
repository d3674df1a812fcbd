# Patches copies of a generated subset with forms of last_to_arrive (racecheck diagnosis).
import re, sys, shutil, glob, os
src = sys.argv[1]
def body_of(form):
    sync0 = '__syncthreads();'
    if form == 'F1':  # flag between barriers of id 3 naming the block's count
        sync0 = 'asm volatile("bar.sync 3, %0;" ::"r"(blockDim.x) : "memory");'
    read = 'return last;'
    if form == 'F2': read = 'return *static_cast<volatile int*>(&last);'
    return ('__device__ __forceinline__ bool last_to_arrive(int* counter, int total) {\n  __shared__ int last;\n  ' + sync0 +
      '\n  if (threadIdx.x == 0) { unsigned before;\n    asm volatile("atom.acq_rel.gpu.global.inc.u32 %0, [%1], %2;" : "=r"(before) : "l"(counter), "r"(static_cast<unsigned>(total - 1)) : "memory");\n    last = before == static_cast<unsigned>(total - 1); }\n  ' + sync0 + '\n  ' + read + '\n}\n\n')
for form in ['F0', 'F1', 'F2', 'F6']:
    dst = f'gen{form}.tmp'
    shutil.rmtree(dst, ignore_errors=True); shutil.copytree(src, dst)
    p = f'{dst}/include/lim_device.cuh'; s = open(p).read()
    a = s.index('template <int CONSUMERS = 0>\n__device__ __forceinline__ bool last_to_arrive'); e = s.index('// ---- Warp collectives')
    body = 'template <int CONSUMERS = 0>\n' + body_of(form)
    if form == 'F0': body = s[a:e]
    s = s[:a] + body + s[e:]; open(p, 'w').write(s)
    if form == 'F6':
        for k in glob.glob(f'{dst}/kernels/decode_attention__*.cu'):
            t = open(k).read(); n = t.count('lim::allow_dependent_grid();'); open(k, 'w').write(t.replace('lim::allow_dependent_grid();', '/* F6: no launch_dependents */'))
            print(k, 'removed', n)
    print(form, 'ok')
