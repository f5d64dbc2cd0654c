// A hospital's information system sends a stay to Salomat's shared health record with an
// unmodified Node FHIR client (fhir-kit-client), as any integrator would, and checks every
// resource the server answered against HL7's R4 JSON schema (fhir-schema.mjs).
//
//   node hospital.mjs --base http://host/fhir --token <bearer> --admin-token <bearer> \
//        --patient '<system>|<national id>'
//
// (or FHIR_BASE, FHIR_TOKEN, FHIR_ADMIN_TOKEN, FHIR_PATIENT). The admin token registers the
// hospital's identifier systems (NamingSystem); the clinician's token sends and reads. It
// prints one JSON summary on stdout (tests/fhir/test_node_client.py asserts on it) and
// exits 0 unless the run itself broke (then 2, the error on stderr). Schema errors are in
// the summary's `schemaErrors`, not the exit code, so the test names them.

import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';

import { Client } from 'fhir-kit-client';

import { schemaErrors } from './fhir-schema.mjs';

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string', default: process.env.FHIR_BASE },
    token: { type: 'string', default: process.env.FHIR_TOKEN },
    'admin-token': { type: 'string', default: process.env.FHIR_ADMIN_TOKEN },
    patient: { type: 'string', default: process.env.FHIR_PATIENT },
  },
});
for (const name of ['base', 'token', 'patient']) {
  if (!args[name]) {
    process.stderr.write(`hospital.mjs: --${name} is required\n`);
    process.exit(2);
  }
}
const [patientSystem, nationalId] = args.patient.split('|');

const hospital = new Client({ baseUrl: args.base, bearerToken: args.token });
const admin = new Client({ baseUrl: args.base, bearerToken: args['admin-token'] ?? args.token });

// ---- what the server answered, and the schema's verdict on it -------------------------

const answered = [];
const summary = { schemaErrors: [], validated: 0 };

function seen(label, resource) {
  answered.push([label, resource]);
  return resource;
}

function status(resource) {
  return Client.httpFor(resource).response?.status;
}

/** A refusal the test expects: its status and OperationOutcome (validated too). */
async function refused(label, call) {
  try {
    const got = await call();
    seen(label, got);
    return { status: status(got) };
  } catch (e) {
    if (!e.response) throw e;
    const outcome = e.response.data;
    if (outcome && typeof outcome === 'object' && outcome.resourceType) seen(label, outcome);
    return {
      status: e.response.status,
      issues: (outcome?.issue ?? []).map((i) => i.code),
    };
  }
}

const ids = (bundle) => (bundle.entry ?? []).map((e) => `${e.resource.resourceType}/${e.resource.id}`);
const where = (location) => location.split('/_history/')[0].replace(/^.*\/fhir\//, '');

// ---- the run ----------------------------------------------------------------------------

const tag = randomUUID();
const caseSystem = `https://hospital-${tag}.example/case-number`;
const labSystem = `https://hospital-${tag}.example/lab-order`;
const caseNumber = `C-${tag.slice(0, 8)}`;

async function run() {
  const cs = seen('CapabilityStatement', await hospital.capabilityStatement());
  summary.capability = {
    fhirVersion: cs.fhirVersion,
    transaction: (cs.rest?.[0]?.interaction ?? []).some((i) => i.code === 'transaction'),
  };

  // 1. the hospital's identifier systems, registered once by the platform's admin
  summary.namingSystems = [];
  for (const [name, uri] of [
    ['HospitalCaseNumbers', caseSystem],
    ['HospitalLabOrders', labSystem],
  ]) {
    const ns = seen(
      `NamingSystem ${name}`,
      await admin.create({
        resourceType: 'NamingSystem',
        body: {
          resourceType: 'NamingSystem',
          name,
          status: 'active',
          kind: 'identifier',
          date: '2026-11-01',
          publisher: 'District hospital',
          uniqueId: [{ type: 'uri', value: uri, preferred: true }],
        },
      }),
    );
    summary.namingSystems.push({ status: status(ns), id: ns.id, uri: ns.uniqueId?.[0]?.value });
  }
  const found = seen(
    'NamingSystem search',
    await hospital.search({ resourceType: 'NamingSystem', searchParams: { value: caseSystem } }),
  );
  summary.namingSystemFound = ids(found);

  // 2. the stay in one transaction: the Patient by national id, the rest by urn:uuid and
  //    by a conditional reference
  const p = `urn:uuid:${randomUUID()}`;
  const enc = `urn:uuid:${randomUUID()}`;
  const conditional = `Patient?identifier=${patientSystem}|${nationalId}`;
  const obs = (code, display, category, value, unit, order) => ({
    fullUrl: `urn:uuid:${randomUUID()}`,
    resource: {
      resourceType: 'Observation',
      identifier: [{ system: labSystem, value: order }],
      status: 'final',
      category: [{ coding: [{ system: OBS_CATEGORY, code: category }] }],
      code: { coding: [{ system: LOINC, code, display }], text: display },
      subject: { reference: p },
      encounter: { reference: enc },
      effectiveDateTime: '2026-11-02T09:00:00+05:00',
      valueQuantity: { value, unit, system: UCUM, code: unit },
    },
    request: { method: 'POST', url: 'Observation' },
  });
  const transaction = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: p,
        resource: {
          resourceType: 'Patient',
          identifier: [{ system: patientSystem, value: nationalId }],
        },
        request: {
          method: 'POST',
          url: 'Patient',
          ifNoneExist: `identifier=${patientSystem}|${nationalId}`,
        },
      },
      {
        fullUrl: enc,
        resource: {
          resourceType: 'Encounter',
          identifier: [{ system: caseSystem, value: caseNumber }],
          status: 'finished',
          class: {
            system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
            code: 'IMP',
            display: 'inpatient encounter',
          },
          subject: { reference: p },
          period: { start: '2026-11-02T08:00:00+05:00', end: '2026-11-09T12:00:00+05:00' },
        },
        request: {
          method: 'POST',
          url: 'Encounter',
          ifNoneExist: `identifier=${caseSystem}|${caseNumber}`,
        },
      },
      {
        fullUrl: `urn:uuid:${randomUUID()}`,
        resource: {
          resourceType: 'Condition',
          subject: { reference: conditional },
          encounter: { reference: enc },
          code: {
            coding: [{ system: ICD10, code: 'J18.9', display: 'Pneumonia, unspecified' }],
            text: 'Community-acquired pneumonia',
          },
          onsetDateTime: '2026-11-01',
        },
        request: { method: 'POST', url: 'Condition' },
      },
      obs('8310-5', 'Body temperature', 'vital-signs', 38.4, 'Cel', `${caseNumber}-T`),
      obs('718-7', 'Hemoglobin [Mass/volume] in Blood', 'laboratory', 128, 'g/L', `${caseNumber}-HB`),
    ],
  };
  const tr = seen('transaction-response', await hospital.transaction({ body: transaction }));
  const locations = tr.entry.map((e) => where(e.response.location));
  summary.transaction = {
    type: tr.type,
    statuses: tr.entry.map((e) => e.response.status),
    locations,
  };
  const [patientRef, encounterRef, conditionRef, temperatureRef, hemoglobinRef] = locations;

  // 3. found again by the hospital's own identifiers, with what they name and what names them
  const stay = seen(
    'Encounter search',
    await hospital.search({
      resourceType: 'Encounter',
      searchParams: {
        identifier: `${caseSystem}|${caseNumber}`,
        _revinclude: ['Condition:encounter', 'Observation:encounter'],
        _include: 'Encounter:subject',
      },
    }),
  );
  summary.encounterSearch = {
    total: stay.total,
    match: (stay.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => `${e.resource.resourceType}/${e.resource.id}`),
    include: (stay.entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => `${e.resource.resourceType}/${e.resource.id}`),
  };
  const lab = seen(
    'Observation search',
    await hospital.search({
      resourceType: 'Observation',
      searchParams: {
        identifier: `${labSystem}|${caseNumber}-HB`,
        _include: ['Observation:encounter', 'Observation:patient'],
      },
    }),
  );
  summary.observationSearch = {
    match: (lab.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => `${e.resource.resourceType}/${e.resource.id}`),
    include: (lab.entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => `${e.resource.resourceType}/${e.resource.id}`),
    value: lab.entry?.find((e) => e.search?.mode === 'match')?.resource?.valueQuantity,
  };

  // 4. a conditional create sent twice (a retry): the second answers the first
  const pulse = {
    resourceType: 'Observation',
    identifier: [{ system: labSystem, value: `${caseNumber}-HR` }],
    status: 'final',
    category: [{ coding: [{ system: OBS_CATEGORY, code: 'vital-signs' }] }],
    code: { coding: [{ system: LOINC, code: '8867-4', display: 'Heart rate' }] },
    subject: { reference: patientRef },
    encounter: { reference: encounterRef },
    effectiveDateTime: '2026-11-03T09:00:00+05:00',
    valueQuantity: { value: 88, unit: '/min', system: UCUM, code: '/min' },
  };
  const ifNoneExist = { 'If-None-Exist': `identifier=${labSystem}|${caseNumber}-HR` };
  summary.conditionalCreate = [];
  for (const n of [1, 2]) {
    const got = seen(
      `conditional create ${n}`,
      await hospital.create({ resourceType: 'Observation', body: pulse, options: { headers: ifNoneExist } }),
    );
    summary.conditionalCreate.push({
      status: status(got),
      id: got.id,
      location: Client.httpFor(got).response?.headers.get('location'),
    });
  }

  // 5. read, update with If-Match, and a stale If-Match refused
  const id = summary.conditionalCreate[0].id;
  const current = seen('read', await hospital.read({ resourceType: 'Observation', id }));
  const etag = Client.httpFor(current).response?.headers.get('etag');
  const changed = { ...current, status: 'amended', valueQuantity: { ...pulse.valueQuantity, value: 84 } };
  const updated = seen(
    'update',
    await hospital.update({
      resourceType: 'Observation',
      id,
      body: changed,
      options: { headers: { 'If-Match': etag } },
    }),
  );
  const stale = await refused('stale update', () =>
    hospital.update({ resourceType: 'Observation', id, body: changed, options: { headers: { 'If-Match': etag } } }),
  );
  const history = seen('history', await hospital.history({ resourceType: 'Observation', id }));
  const v1 = seen('vread', await hospital.vread({ resourceType: 'Observation', id, version: '1' }));
  summary.update = {
    readEtag: etag,
    version: updated.meta?.versionId,
    status: updated.status,
    value: updated.valueQuantity?.value,
    stale,
    history: (history.entry ?? []).map((e) => e.resource.meta.versionId),
    firstVersionValue: v1.valueQuantity?.value,
  };

  // 6. a batch: each entry on its own (a read, a search, an entry refused)
  const batch = seen(
    'batch-response',
    await hospital.batch({
      body: {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          { request: { method: 'GET', url: conditionRef } },
          { request: { method: 'GET', url: `Observation?patient=${patientRef}&encounter=${encounterRef}` } },
          {
            resource: { ...pulse, identifier: [{ system: 'https://unregistered.example/x', value: '1' }] },
            request: { method: 'POST', url: 'Observation' },
          },
        ],
      },
    }),
  );
  summary.batch = {
    type: batch.type,
    statuses: batch.entry.map((e) => e.response.status),
    refused: batch.entry.map((e) =>
      (e.response.outcome?.issue ?? []).map((i) => `${(i.expression ?? []).join(' ')}: ${i.diagnostics}`),
    ),
    searchTotal: batch.entry[1].resource?.total,
  };

  // 7. refusals speak FHIR too
  summary.refusals = {
    unknownRead: await refused('read of nothing', () =>
      hospital.read({ resourceType: 'Observation', id: 'shr-999999999' }),
    ),
    badCreate: await refused('invalid create', () =>
      hospital.create({ resourceType: 'Observation', body: { ...pulse, identifier: undefined, status: 'done' } }),
    ),
  };
  summary.refs = { patientRef, encounterRef, conditionRef, temperatureRef, hemoglobinRef };
}

try {
  await run();
} catch (e) {
  const detail = e.response ? `${e.message}\n${JSON.stringify(e.response.data)}` : (e.stack ?? String(e));
  process.stderr.write(`hospital.mjs: ${detail}\n`);
  process.exit(2);
}

for (const [label, resource] of answered) {
  for (const error of schemaErrors(resource)) summary.schemaErrors.push(`${label}: ${error}`);
}
summary.validated = answered.length;
summary.validatedTypes = [...new Set(answered.map(([, r]) => r.resourceType))].sort();
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
