// A client system written in Node: signs an ES384 client assertion with jose (the private
// JWK comes on stdin), discovers the token endpoint, gets a token (SMART Backend Services),
// reads a Patient, then sends the same assertion again; then @medplum/core's own
// backend-services login (startJwtAssertionLogin, with a new assertion) and its readResource.
// Prints what happened as JSON. Used by tests/fhir/test_smart_backend.py.
import { MedplumClient } from "@medplum/core";
import { SignJWT, importJWK } from "jose";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, v, i, all) => (i % 2 === 0 ? [...pairs, [v.replace(/^--/, ""), all[i + 1]]] : pairs), []),
);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const jwk = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const key = await importJWK(jwk, "ES384");

const configuration = await (await fetch(`${args.base}/fhir/.well-known/smart-configuration`)).json();
const tokenUrl = configuration.token_endpoint;
function sign() {
  return new SignJWT({})
    .setProtectedHeader({ alg: "ES384", kid: jwk.kid, typ: "JWT" })
    .setIssuer(args["client-id"])
    .setSubject(args["client-id"])
    .setAudience(tokenUrl)
    .setExpirationTime("4m")
    .setJti(crypto.randomUUID())
    .sign(key);
}
const assertion = await sign();

async function askToken() {
  const form = new URLSearchParams({
    grant_type: "client_credentials",
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: assertion,
    scope: "system/Patient.read",
  });
  const r = await fetch(tokenUrl, { method: "POST", body: form });
  return { status: r.status, body: await r.json() };
}

const first = await askToken();
const read = await fetch(`${args.base}/fhir/Patient/${args.patient}`, {
  headers: { Authorization: `Bearer ${first.body.access_token}`, Accept: "application/fhir+json" },
});
const patient = await read.json();
const again = await askToken();

// @medplum/core, unmodified: it sends no scope (the registered ones are granted)
const medplum = new MedplumClient({
  baseUrl: `${args.base}/`,
  fhirUrlPath: "fhir",
  tokenUrl,
  medplumServer: false,
  fetch: globalThis.fetch,
});
await medplum.startJwtAssertionLogin(await sign());
const viaMedplum = await medplum.readResource("Patient", args.patient);
console.log(
  JSON.stringify({
    configuration: { token_endpoint: tokenUrl },
    token: { status: first.status, token_type: first.body.token_type, scope: first.body.scope },
    patient: { status: read.status, resourceType: patient.resourceType, id: patient.id },
    replay: { status: again.status, error: again.body.error },
    medplum: { resourceType: viaMedplum.resourceType, id: viaMedplum.id },
  }),
);
