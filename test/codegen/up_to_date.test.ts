// The committed generated/ folder is exactly what the DSL sources produce with the default matrix
// (the same check as `lim generate --check`).

import { join } from "node:path";
import { expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";
import { planGeneration } from "../../codegen/generate.js";
import { compareGenerated } from "../../codegen/write.js";

it("generated/ matches the DSL sources (run `npm run generate` if not)", async () => {
  const plan = await planGeneration({ root: PROJECT_ROOT, matrix: {} });
  const bad = compareGenerated(join(PROJECT_ROOT, "generated"), plan.files).filter((r) => r.status !== "unchanged");
  expect(bad).toEqual([]);
});
