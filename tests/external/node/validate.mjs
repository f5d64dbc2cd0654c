// Validates FHIR R4 JSON resources against HL7's R4 JSON schema (fhir-schema.mjs), many in
// one process: stdin is a JSON array of [label, resource] pairs, stdout a JSON object
// mapping each label to its errors (an empty list: valid). tests/fhir/validator.py runs it.

import { schemaErrors } from './fhir-schema.mjs';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const pairs = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const out = {};
for (const [label, resource] of pairs) out[label] = schemaErrors(resource);
process.stdout.write(JSON.stringify(out));
