# Libraries side by side (argv: name=path ...) on B 1 and B 8 decode shapes, alternating, in one process.
import sys
sys.path.insert(0, "bench"); sys.path.insert(0, "python")
import torch
from decode_attention import Case
from lessismore import Lim
from lessismore.baseline import BACKENDS
libs = {a.split("=")[0]: Lim(a.split("=")[1]) for a in sys.argv[1:]}
shapes = [(1, 4096, 128, 8), (1, 4096, 256, 4), (1, 4096, 64, 8), (1, 32768, 128, 8), (1, 131072, 128, 8), (8, 4096, 128, 8), (8, 32768, 128, 8)]
for B, n, d, hkv in shapes:
    c = Case(B, n, d, hkv=hkv)
    res = {name: [] for name in libs}
    errs = {}
    for _ in range(2):
        for name, lim in libs.items():
            us, rel, _ = c.ours(lim); res[name].append(us); errs[name] = max(errs.get(name, 0), rel)
    cud = c.sdpa(BACKENDS["cudnn"])[0]
    print(f"B {B:>2} N {n:>6} D {d:>3} G {32 // hkv}: cudnn {cud:6.1f} | " + " | ".join(f"{k} {min(v):6.1f} ({cud / min(v):.2f}x, err {errs[k]:.0e})" for k, v in res.items()), flush=True)
    del c; torch.cuda.empty_cache()
