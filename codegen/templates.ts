// Handlebars set-up: templates are read from templates/, rendered with noEscape (the output is C, not
// HTML) and strict (a missing field is an error, never an empty string).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import Handlebars from "handlebars";

const cache = new Map<string, HandlebarsTemplateDelegate>();

export function render(root: string, template: string, context: object): string {
  let compiled = cache.get(template);
  if (!compiled) {
    const source = readFileSync(join(root, "templates", template), "utf8");
    compiled = Handlebars.compile(source, { noEscape: true, strict: true });
    cache.set(template, compiled);
  }
  return compiled(context);
}

/** A template file copied verbatim (device primitives). */
export function verbatim(root: string, template: string): string {
  return readFileSync(join(root, "templates", template), "utf8");
}
