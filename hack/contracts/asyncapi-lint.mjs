// Parses an AsyncAPI document with the AsyncAPI parser (its own validation
// and Spectral ruleset) and fails on any error or warning.
import { basename, dirname } from 'node:path';
import { Parser, fromFile } from '@asyncapi/parser';

// Relative $refs (the event schemas) resolve from the document's folder.
const file = process.argv[2];
process.chdir(dirname(file));
const { document, diagnostics } = await fromFile(new Parser(), basename(file)).parse();
const severities = ['error', 'warning', 'info', 'hint'];
let failed = document === undefined;
for (const d of diagnostics) {
  const level = severities[d.severity] ?? 'error';
  if (d.severity <= 1) failed = true;
  console.log(`${file}: ${level} ${d.code}: ${d.message} at /${d.path.join('/')}`);
}
console.log(`${file}: ${failed ? 'invalid' : 'valid'} (${diagnostics.length} diagnostics)`);
process.exit(failed ? 1 : 0);
