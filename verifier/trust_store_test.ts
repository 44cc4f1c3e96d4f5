import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { parseTrustStore, PROGRAM_SIGNER_ROLE } from "./trust_store.ts";

const x = "uFiRf7XivQ08ph98EEbLTKMTWx0MRcBs_q4zM3TRlwE";
const key = {
  keyId: "k1",
  publicKeyJwk: { kty: "OKP", crv: "Ed25519", x },
  roles: [PROGRAM_SIGNER_ROLE],
};

function message(value: unknown): string {
  let caught: unknown;
  try {
    parseTrustStore(value);
  } catch (error) {
    caught = error;
  }
  ok(caught instanceof TypeError, "expected a TypeError");
  return caught.message;
}

Deno.test("parseTrustStore accepts the documented file, as text or value", () => {
  const store = parseTrustStore(JSON.stringify({ keys: [key] }));
  deepStrictEqual(store, { keys: [{ ...key, revoked: false }] });
  const full = parseTrustStore({
    keys: [{
      ...key,
      publicKeyJwk: { ...key.publicKeyJwk, key_ops: ["verify"], ext: true },
      revoked: true,
      notBefore: "2026-01-01T00:00:00Z",
      notAfter: "2027-01-01T00:00:00+02:00",
      comment: "CI signer",
    }, { ...key, keyId: "op", roles: ["operator"] }],
  });
  equal(full.keys.length, 2);
  equal(full.keys[0]?.revoked, true);
  deepStrictEqual(full.keys[0]?.publicKeyJwk["key_ops"], ["verify"]);
  deepStrictEqual(parseTrustStore({ keys: [] }), { keys: [] });
});

Deno.test("parseTrustStore names the wrong field", () => {
  const cases: [unknown, string][] = [
    ["{", "Cannot parse trust store: it is not JSON"],
    [null, "the trust store must be an object, got null"],
    [{}, "keys is missing"],
    [{ keys: [{ ...key, keyId: "" }] }, "keys[0].keyId"],
    [{ keys: [key, key] }, 'keys[1].keyId: duplicates key id "k1"'],
    [
      { keys: [{ ...key, publicKeyJwk: { ...key.publicKeyJwk, x: "AAAA" } }] },
      "keys[0].publicKeyJwk.x",
    ],
    [
      {
        keys: [{ ...key, publicKeyJwk: { ...key.publicKeyJwk, crv: "P-256" } }],
      },
      "keys[0].publicKeyJwk.crv",
    ],
    [
      { keys: [{ ...key, publicKeyJwk: { ...key.publicKeyJwk, d: x } }] },
      "keys[0].publicKeyJwk: holds a private key",
    ],
    [
      { keys: [{ ...key, roles: "program-signer" }] },
      "keys[0].roles must be an array",
    ],
    [
      { keys: [{ ...key, revoked: "no" }] },
      "keys[0].revoked must be a boolean",
    ],
    [{ keys: [{ ...key, notAfter: "soon" }] }, "keys[0].notAfter"],
    [{ keys: [{ ...key, extra: 1 }] }, 'keys[0] has unknown field(s) "extra"'],
  ];
  for (const [value, expected] of cases) {
    const text = message(value);
    ok(text.startsWith("Cannot parse trust store: "), text);
    ok(text.includes(expected), `${JSON.stringify(text)} lacks ${expected}`);
  }
  throws(() => parseTrustStore(undefined), TypeError);
});

Deno.test("parseTrustStore refuses a duplicate key in the JSON text", () => {
  const key = {
    keyId: "k1",
    publicKeyJwk: { kty: "OKP", crv: "Ed25519", x: "A".repeat(43) },
    roles: ["operator"],
  };
  const text = JSON.stringify({ keys: [key] }).replace(
    '"roles"',
    '"revoked":true,"revoked":false,"roles"',
  );
  throws(() => parseTrustStore(text), /duplicate key "revoked"/);
});
