#!/usr/bin/env -S npx tsx
// lim: the LessIsMore kernel toolkit's command line.

import { Command } from "commander";
import { registerBench } from "./bench_command.js";
import { registerDecode } from "./decode_command.js";
import { registerGenerate } from "./generate_command.js";
import { registerTune } from "./tune_command.js";
import { TOOLKIT_VERSION } from "../codegen/version.js";

const program = new Command();
program.name("lim").description("generate, test and benchmark LessIsMore sparse-attention decode kernels").version(TOOLKIT_VERSION);
registerGenerate(program);
registerDecode(program);
registerTune(program);
registerBench(program);
// `lim` alone asks what there is: the help, and success (commander's default is the help as an error).
const commands = program.commands.map((c) => c.name());
if (process.argv.length <= 2) program.outputHelp();
else if (process.argv[2] === "help" && process.argv[3] !== undefined && !commands.includes(process.argv[3])) {
  // commander prints the whole help as an error here, without naming what it did not know.
  console.error(`error: unknown command '${process.argv[3]}': the commands are ${commands.join(", ")}`);
  process.exitCode = 1;
} else await program.parseAsync(process.argv);
