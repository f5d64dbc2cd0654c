// An independent validator of resources against Salomat's published profiles, written
// from the FHIR R4 specification's profiling rules (https://hl7.org/fhir/R4/profiling.html,
// https://hl7.org/fhir/R4/elementdefinition.html), with HL7's FHIRPath engine (fhirpath.js
// and its R4 model). It reads only what the server publishes: the StructureDefinitions
// (GET /StructureDefinition) and, for each required binding, the value set's expansion
// (GET /ValueSet/$expand) -- an expansion is data, not the server's code.
//
//   node profiles.mjs --base <fhir base url> --token <bearer> [--ndjson]
//
//   stdin: a JSON array of [label, resource] or [label, resource, profile url] pairs, or
//          with --ndjson one resource a line (labelled line-1, line-2, ...)
//   stdout: {"definitions": {<id>: [problems of the StructureDefinition itself]},
//            "results": {<label>: [{profile, element, path, code, key?, message}]}}
//
// A resource is checked against the profile its pair names, else the profiles of ours its
// meta.profile names (each must admit it), else the published profiles of its type (one
// must admit it: a type may have several, a pregnancy's Condition and the record's).
//
// The rules, each per the specification:
// - cardinality: an element's min and max count its occurrences within each occurrence
//   of its parent; a slice counts the parent's items whose discriminator (type value) has
//   the slice's fixed value;
// - fixed[x]: the instance equals the value exactly; pattern[x]: the instance holds every
//   member of the pattern (arrays: each pattern item matched by some instance item);
// - binding, strength required: a Coding / an item of CodeableConcept.coding (at least
//   one) / a code is in the value set's expansion; a CodeableConcept with text only is not;
// - constraint: its FHIRPath expression on each occurrence of the element (the resource
//   for the root element) must not evaluate to false.
// The StructureDefinitions themselves: HL7's R4 JSON schema (fhir-schema.mjs), and the
// rules of a constraint profile on a resource (kind, derivation, baseDefinition, type,
// fhirVersion, each differential element's path under the type, a slice after a slicing).

import { createInterface } from 'node:readline';

import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';

import { schemaErrors } from './fhir-schema.mjs';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const base = opt('--base');
const token = opt('--token');
const ndjson = args.includes('--ndjson');
if (!base) {
  process.stderr.write('usage: node profiles.mjs --base <fhir base> --token <bearer> [--ndjson]\n');
  process.exit(2);
}

// A long check keeps the event loop busy for seconds between two requests: the server
// closes the idle keep-alive connection meanwhile (uvicorn after 5 s) and the next
// request can go out on the closed socket before undici has seen it close ("other side
// closed"). A GET is safe to send again once, on a fresh connection.
async function get(path, retried = false) {
  let r;
  try {
    r = await fetch(`${base}${path}`, {
      headers: { Accept: 'application/fhir+json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    });
  } catch (err) {
    if (!retried && err?.cause?.code === 'UND_ERR_SOCKET') return get(path, true);
    throw err;
  }
  if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

// ---- the published definitions ---------------------------------------------------------

async function structureDefinitions() {
  const out = [];
  let next = '/StructureDefinition?_count=100';
  while (next) {
    const b = await get(next);
    for (const e of b.entry ?? []) out.push(e.resource);
    const link = (b.link ?? []).find((l) => l.relation === 'next');
    next = link ? link.url.slice(link.url.indexOf('/StructureDefinition')) : null;
  }
  return out;
}

function definitionProblems(sd) {
  const problems = schemaErrors(sd).map((e) => `schema: ${e}`);
  const want = {
    kind: 'resource',
    derivation: 'constraint',
    fhirVersion: '4.0.1',
    baseDefinition: `http://hl7.org/fhir/StructureDefinition/${sd.type}`,
  };
  for (const [k, v] of Object.entries(want)) {
    if (sd[k] !== v) problems.push(`${k} is ${JSON.stringify(sd[k])}, not ${v}`);
  }
  if (!sd.url?.endsWith(`/StructureDefinition/${sd.id}`)) problems.push('url does not end with the id');
  const elements = sd.differential?.element ?? [];
  if (!elements.length) problems.push('no differential elements');
  const sliced = new Set();
  for (const e of elements) {
    if (e.path !== sd.type && !e.path.startsWith(`${sd.type}.`)) problems.push(`${e.id}: path outside ${sd.type}`);
    if (e.id.replace(/:[^.]+/g, '') !== e.path) problems.push(`${e.id}: id and path disagree`);
    if (e.slicing) sliced.add(e.path);
    if (e.sliceName && !sliced.has(e.path)) problems.push(`${e.id}: a slice before its slicing`);
    if (e.min !== undefined && e.max !== undefined && e.max !== '*' && Number(e.max) < e.min) {
      problems.push(`${e.id}: max below min`);
    }
    for (const c of e.constraint ?? []) {
      try {
        fhirpath.compile({ base: e.path, expression: c.expression }, r4);
      } catch (err) {
        problems.push(`${e.id} ${c.key}: FHIRPath does not compile: ${err.message}`);
      }
    }
  }
  return problems;
}

const expansions = new Map();

async function expansion(url) {
  if (!expansions.has(url)) {
    const codes = new Set();
    let offset = 0;
    for (;;) {
      const vs = await get(`/ValueSet/$expand?url=${encodeURIComponent(url)}&count=1000&offset=${offset}`);
      const contains = vs.expansion?.contains ?? [];
      for (const c of contains) codes.add(`${c.system}|${c.code}`);
      offset += contains.length;
      if (!contains.length || offset >= (vs.expansion?.total ?? 0)) break;
    }
    expansions.set(url, codes);
  }
  return expansions.get(url);
}

// ---- walking a resource by element ids ---------------------------------------------------

function evaluate(node, basePath, expression) {
  const root = !basePath.includes('.');
  const path = root ? `${basePath}.${expression}` : { base: basePath, expression };
  return fhirpath.evaluate(node, path, null, r4);
}

// the occurrences of an element id: [{node, path}] (path: the element path, no slices)
function occurrences(resource, elementId, byId) {
  const steps = elementId.split('.');
  let found = [{ node: resource, path: steps[0] }];
  let idSoFar = steps[0];
  for (const step of steps.slice(1)) {
    const [name, sliceName] = step.split(':');
    const expr = name.replace(/\[x\]$/, '');
    const next = [];
    for (const f of found) {
      for (const v of evaluate(f.node, f.path, expr)) next.push({ node: v, path: `${f.path}.${name}` });
    }
    found = sliceName ? inSlice(next, `${idSoFar}.${name}`, sliceName, byId) : next;
    idSoFar = `${idSoFar}.${step}`;
  }
  return found;
}

function inSlice(items, slicedId, sliceName, byId) {
  const sliced = byId.get(slicedId);
  const discriminators = sliced?.slicing?.discriminator ?? [];
  return items.filter((item) =>
    discriminators.every((d) => {
      const e = byId.get(`${slicedId}:${sliceName}.${d.path}`);
      const want = e && fixedOf(e);
      if (!want) return true;
      const got = evaluate(item.node, item.path, d.path);
      return got.some((g) => deepEqual(g, want.value));
    }),
  );
}

function fixedOf(e) {
  for (const [k, v] of Object.entries(e)) {
    if (k.startsWith('fixed')) return { kind: 'fixed', name: k, value: v };
    if (k.startsWith('pattern')) return { kind: 'pattern', name: k, value: v };
  }
  return null;
}

function deepEqual(a, b) {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v) {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
  }
  return v;
}

function holds(value, pattern) {
  if (Array.isArray(pattern)) {
    return Array.isArray(value) && pattern.every((p) => value.some((v) => holds(v, p)));
  }
  if (pattern && typeof pattern === 'object') {
    return value && typeof value === 'object' && Object.entries(pattern).every(([k, p]) => k in value && holds(value[k], p));
  }
  return value === pattern;
}

// ---- the rules ------------------------------------------------------------------------------

async function check(resource, sd) {
  const problems = [];
  const elements = sd.differential.element;
  const byId = new Map(elements.map((e) => [e.id, e]));
  const add = (e, code, message, key) =>
    problems.push({ profile: sd.url, element: e.id, path: e.path, code, ...(key ? { key } : {}), message });
  for (const e of elements) {
    const steps = e.id.split('.');
    if (steps.length > 1 && (e.min !== undefined || e.max !== undefined)) {
      const parentId = steps.slice(0, -1).join('.');
      const last = steps[steps.length - 1];
      for (const parent of occurrences(resource, parentId, byId)) {
        const [name, sliceName] = last.split(':');
        let items = evaluate(parent.node, parent.path, name.replace(/\[x\]$/, '')).map((v) => ({
          node: v,
          path: `${parent.path}.${name}`,
        }));
        if (sliceName) items = inSlice(items, `${parentId}.${name}`, sliceName, byId);
        const n = items.length;
        if (e.min !== undefined && n < e.min) add(e, 'required', `${n} given, at least ${e.min}`);
        if (e.max !== undefined && e.max !== '*' && n > Number(e.max)) add(e, 'structure', `${n} given, at most ${e.max}`);
      }
    }
    const found = occurrences(resource, e.id, byId);
    const fixed = fixedOf(e);
    for (const f of found) {
      if (fixed) {
        const ok = fixed.kind === 'fixed' ? deepEqual(f.node, fixed.value) : holds(f.node, fixed.value);
        if (!ok) add(e, 'value', `not the ${fixed.name} ${JSON.stringify(fixed.value)}`);
      }
      if (e.binding?.strength === 'required' && isCoded(f.node)) {
        const codes = await expansion(e.binding.valueSet);
        if (!codedIn(f.node, codes)) add(e, 'code-invalid', `no code from ${e.binding.valueSet}`);
      }
      for (const c of e.constraint ?? []) {
        let result;
        try {
          result = e.path.includes('.')
            ? fhirpath.evaluate(f.node, { base: e.path, expression: c.expression }, null, r4)
            : fhirpath.evaluate(resource, c.expression, null, r4);
        } catch (err) {
          result = [false];
        }
        if (result.includes(false)) add(e, 'invariant', c.human, c.key);
      }
    }
  }
  return problems;
}

function isCoded(node) {
  // a choice element bound ([x]) binds its coded types only
  return typeof node === 'string' || (node && typeof node === 'object' && !('reference' in node) && !('value' in node));
}

function codedIn(node, codes) {
  if (typeof node === 'string') return [...codes].some((c) => c.endsWith(`|${node}`));
  const codings = Array.isArray(node.coding) ? node.coding : 'code' in node ? [node] : [];
  return codings.some((c) => codes.has(`${c.system}|${c.code}`));
}

// ---- main -------------------------------------------------------------------------------------

async function readInput() {
  if (ndjson) {
    const pairs = [];
    let n = 0;
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      n += 1;
      if (!line.trim()) continue;
      let resource;
      try {
        resource = JSON.parse(line);
      } catch (err) {
        resource = { notJson: err.message };
      }
      pairs.push([`line-${n}`, resource]);
    }
    return pairs;
  }
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const sds = await structureDefinitions();
const byUrl = new Map(sds.map((sd) => [sd.url, sd]));
const definitions = Object.fromEntries(sds.map((sd) => [sd.id, definitionProblems(sd)]));
const results = {};
for (const [label, resource, profile] of await readInput()) {
  if (!resource || typeof resource.resourceType !== 'string') {
    results[label] = [{ profile: null, element: null, path: null, code: 'structure', message: 'not a FHIR resource' }];
    continue;
  }
  let applies;
  let anyOne = false;
  if (profile) {
    applies = [byUrl.get(profile)].filter(Boolean);
    if (!applies.length) {
      results[label] = [{ profile, element: null, path: null, code: 'not-found', message: 'no such published profile' }];
      continue;
    }
  } else {
    const named = (resource.meta?.profile ?? []).map((u) => byUrl.get(u.split('|')[0])).filter(Boolean);
    applies = named.length ? named : sds.filter((sd) => sd.type === resource.resourceType);
    // claiming none, a resource of a type with several national profiles (a pregnancy's
    // Condition, the shared record's) conforms when one of them admits it
    anyOne = !named.length;
  }
  const each = [];
  for (const sd of applies) each.push(await check(resource, sd));
  results[label] = anyOne && each.some((p) => p.length === 0) ? [] : each.flat();
}
process.stdout.write(JSON.stringify({ definitions, results }));
