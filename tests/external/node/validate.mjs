// Validates FHIR R4 JSON resources against HL7's R4 JSON schema (fhir-schema.mjs), many in
// one process (tests/fhir/validator.py runs it):
//
//   node validate.mjs           stdin: a JSON array of [label, resource] pairs;
//                               stdout: a JSON object, each label's errors ([]: valid)
//   node validate.mjs --lines   stdin: one resource a line; stdout: one line each, the
//                               JSON array of its errors (for property tests: one process,
//                               a resource at a time)

import { createInterface } from 'node:readline';

import { schemaErrors } from './fhir-schema.mjs';

if (process.argv.includes('--lines')) {
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    let errors;
    try {
      errors = schemaErrors(JSON.parse(line));
    } catch (e) {
      errors = [`not JSON: ${e.message}`];
    }
    process.stdout.write(`${JSON.stringify(errors)}\n`);
  }
} else {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const pairs = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const out = {};
  for (const [label, resource] of pairs) out[label] = schemaErrors(resource);
  process.stdout.write(JSON.stringify(out));
}
