// The committed generated/ folder is exactly what `lim generate` produces by default (the DSL sources, the
// default matrix and the tuning databases in tuning/): the same check CI runs, through the same command.

import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";

it("generated/ matches the DSL sources and tuning databases (run `npm run generate` if not)", () => {
  const r = spawnSync(join(PROJECT_ROOT, "bin/lim"), ["generate", "--check"], { cwd: PROJECT_ROOT, encoding: "utf8" });
  expect(r.status, `${r.stderr}\n${r.stdout.split("\n").slice(-5).join("\n")}`).toBe(0);
  expect(r.stdout).toMatch(/generated matches the sources \(\d+ variants, \d+ files\)/);
  expect(r.stderr).not.toMatch(/warning/);
}, 60_000);
