// `lim` with no arguments is a question, not a mistake: it prints the help and succeeds.

import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";

it("`lim` alone prints the help and exits 0", () => {
  const r = spawnSync(join(PROJECT_ROOT, "bin/lim"), [], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^Usage: lim \[options\] \[command\]/);
  expect(r.stdout).toMatch(/^ {2}generate \[options\]/m);
  expect(r.stderr).toBe("");
});

it("`lim help <unknown>` names the command it does not know and lists the commands", () => {
  const r = spawnSync(join(PROJECT_ROOT, "bin/lim"), ["help", "genrate"], { encoding: "utf8" });
  expect(r.status).toBe(1);
  expect(r.stderr).toBe("error: unknown command 'genrate': the commands are generate, decode, tune, bench\n");
});
