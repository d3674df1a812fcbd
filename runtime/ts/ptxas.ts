// Reads what `nvcc -Xptxas -v` reports about a compiled kernel: registers, stack frame, spills and static
// shared memory. The build tests and the tuner reject variants that spill or use a stack frame.

export interface PtxasReport {
  registers: number;
  stack: number;
  spillStores: number;
  spillLoads: number;
  /** Static shared memory (CUB's temporary storage), on top of the variant's dynamic shared memory. */
  staticShared: number;
}

/** The report of the one kernel in `text` (ptxas's output for one .cu file), or undefined if there is none. */
export function readPtxasReport(text: string): PtxasReport | undefined {
  const props = /(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/.exec(text);
  const regs = /Used (\d+) registers/.exec(text);
  if (!props || !regs) return undefined;
  const smem = /(\d+) bytes smem/.exec(text);
  return { stack: Number(props[1]), spillStores: Number(props[2]), spillLoads: Number(props[3]), registers: Number(regs[1]), staticShared: smem ? Number(smem[1]) : 0 };
}

/** Why a kernel with this report should not be used, or undefined when it is fine. */
export function ptxasProblem(r: PtxasReport): string | undefined {
  if (r.spillStores + r.spillLoads > 0) return `spills ${r.spillStores} bytes (stores) and ${r.spillLoads} bytes (loads) to local memory`;
  if (r.stack > 0) return `uses a ${r.stack}-byte stack frame`;
  return undefined;
}
