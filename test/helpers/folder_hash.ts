// A folder's exact state for before/after comparisons: every folder and file under it, each file with a
// hash of its bytes. Equal snapshots mean a byte-identical folder (no file changed, added or removed).

import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export function hashFolder(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, prefix: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) {
        out[`${prefix}${e.name}/`] = "folder";
        walk(join(d, e.name), `${prefix}${e.name}/`);
      } else {
        out[`${prefix}${e.name}`] = createHash("sha256").update(readFileSync(join(d, e.name))).digest("hex");
      }
    }
  };
  walk(dir, "");
  return out;
}
