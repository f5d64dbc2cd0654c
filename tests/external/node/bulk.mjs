// The national statistics office pulls populations from Salomat with an unmodified bulk-data
// client that is not ours (@medplum/core's MedplumClient.bulkExport: kick-off with
// Prefer: respond-async, polling the status URL, the manifest), then downloads every file
// the manifest lists.
//
//   node bulk.mjs --base http://host --token <bearer> --group <id> --since <instant>
//
// (or SALOMAT_BASE, FHIR_TOKEN, FHIR_GROUP, FHIR_SINCE). It runs a system-level export
// (_type Patient,Immunization, _since) and a Group export, and prints one JSON summary on
// stdout: for each, the manifest and every NDJSON line as parsed (the Python test,
// tests/fhir/test_bulk_client.py, validates each line against HL7's R4 JSON schema). Exit 0
// unless the run itself broke (then 2, the error on stderr).

import { parseArgs } from 'node:util';

import { MedplumClient } from '@medplum/core';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string', default: process.env.SALOMAT_BASE },
    token: { type: 'string', default: process.env.FHIR_TOKEN },
    group: { type: 'string', default: process.env.FHIR_GROUP },
    since: { type: 'string', default: process.env.FHIR_SINCE },
  },
});
for (const name of ['base', 'token', 'group', 'since']) {
  if (!args[name]) {
    process.stderr.write(`bulk.mjs: --${name} is required\n`);
    process.exit(2);
  }
}

const medplum = new MedplumClient({
  baseUrl: args.base.endsWith('/') ? args.base : `${args.base}/`,
  fhirUrlPath: 'fhir',
  fetch: globalThis.fetch,
});
medplum.setAccessToken(args.token);

const poll = { pollStatusOnAccepted: true, pollStatusPeriod: 200 };

async function pull(level, types, since) {
  const manifest = await medplum.bulkExport(level, types, since, { ...poll });
  const files = [];
  for (const item of manifest.output ?? []) {
    // the file is NDJSON, behind the same bearer token (requiresAccessToken)
    const response = await fetch(item.url, {
      headers: { Authorization: `Bearer ${args.token}`, Accept: 'application/fhir+ndjson' },
    });
    const text = await response.text();
    const lines = text.split('\n').filter((line) => line.length > 0);
    files.push({
      type: item.type,
      url: item.url,
      count: item.count,
      status: response.status,
      contentType: response.headers.get('content-type'),
      resources: lines.map((line) => JSON.parse(line)),
    });
  }
  return { manifest, files };
}

async function main() {
  const system = await pull('', 'Patient,Immunization', args.since);
  const group = await pull(`Group/${args.group}`, undefined, undefined);
  let refused;
  try {
    await medplum.bulkExport('', 'Claim', undefined, { ...poll });
    refused = { status: 'accepted' };
  } catch (err) {
    refused = { status: 'refused', message: String(err.message ?? err) };
  }
  process.stdout.write(JSON.stringify({ system, group, refused }));
}

main().catch((err) => {
  process.stderr.write(`bulk.mjs: ${err.stack ?? err}\n`);
  process.exit(2);
});
