// The toolkit's version, from package.json: stamped into generated files and the tuning database.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const pkg = JSON.parse(readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8")) as { version: string };

export const TOOLKIT_VERSION: string = pkg.version;
/** Bumped whenever a C signature in lim.h or lim_variants.h changes incompatibly. */
export const ABI_VERSION = 4; // 2: cache tensors (lim_cache_tensor) and the cache layout in lim_find_*; 3: FP8 caches (lim_fp8_*, the K/V dtype in lim_find_*); 4: kv_dtype (E4M3 or E5M2) in every lim_fp8_* function
