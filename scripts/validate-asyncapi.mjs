// Validates docs/asyncapi.yaml with the AsyncAPI project's own parser (pinned in
// package.json), resolving the payload schemas from docs/notifications.schema.json. Prints every
// diagnostic; exits 1 when one is an error, or when the document does not name the three
// messages with their payloads.
//
//   node scripts/validate-asyncapi.mjs [docs/asyncapi.yaml]
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { Parser, fromFile } from '@asyncapi/parser';

const path = process.argv[2] ?? new URL('../docs/asyncapi.yaml', import.meta.url).pathname;
const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, path).parse();
const severities = ['error', 'warning', 'information', 'hint'];
for (const d of diagnostics) {
  console.log(`${severities[d.severity] ?? d.severity}: ${d.code}: ${d.message} (${d.path.join('.')})`);
}
if (!document || diagnostics.some((d) => d.severity === 0)) {
  console.log(`${path}: not valid AsyncAPI`);
  process.exit(1);
}
const messages = document.messages().all().map((m) => m.name()).sort();
const expected = ['ConnectionTest', 'Export', 'Training'];
if (JSON.stringify(messages) !== JSON.stringify(expected)) {
  console.log(`${path}: messages ${messages}, expected ${expected}`);
  process.exit(1);
}
for (const m of document.messages().all()) {
  const payload = m.payload();
  const required = payload?.required() ?? [];
  if (!['version', 'type', 'Content'].every((k) => required.includes(k))) {
    console.log(`${path}: ${m.name()}: its payload schema did not resolve (required: ${required})`);
    process.exit(1);
  }
}
// Each example is a corpus case, named by its file: the payload is that file's JSON, which the
// schema test holds to the parser.
let examples = 0;
for (const m of document.messages().all()) {
  for (const example of m.examples().all()) {
    const file = new URL(`../corpus/messages/${example.name()}.msg`, import.meta.url);
    const corpus = JSON.parse(readFileSync(file, 'utf8'));
    if (!isDeepStrictEqual(corpus, example.payload())) {
      console.log(`${path}: ${m.name()}: example ${example.name()} is not its corpus file`);
      process.exit(1);
    }
    examples += 1;
  }
}
console.log(`${path}: valid AsyncAPI ${document.version()}, messages ${messages.join(', ')}, ${examples} examples from the corpus`);
