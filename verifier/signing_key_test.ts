import {
  deepStrictEqual,
  equal,
  notEqual,
  ok,
  rejects,
} from "node:assert/strict";
import { generateSigningKey } from "./signing_key.ts";
import { parseTrustStore } from "./trust_store.ts";

Deno.test("generateSigningKey returns a private JWK and a trust store that parses", async () => {
  const key = await generateSigningKey("ci-2026");
  equal(key.privateJwk.kid, "ci-2026");
  equal(key.privateJwk.kty, "OKP");
  equal(key.privateJwk.crv, "Ed25519");
  equal(typeof key.privateJwk.d, "string");
  equal(key.publicJwk.d, undefined);
  equal(key.publicJwk.x, key.privateJwk.x);
  deepStrictEqual(parseTrustStore(JSON.parse(JSON.stringify(key.trustStore))), {
    keys: [{
      keyId: "ci-2026",
      publicKeyJwk: { kty: "OKP", crv: "Ed25519", x: key.privateJwk.x },
      roles: ["program-signer"],
      revoked: false,
    }],
  });
});

Deno.test("generated keys sign and verify, and differ each time", async () => {
  const a = await generateSigningKey("a", { roles: ["operator"] });
  const b = await generateSigningKey("b");
  notEqual(a.privateJwk.d, b.privateJwk.d);
  deepStrictEqual(a.trustStore.keys[0]?.roles, ["operator"]);
  const priv = await crypto.subtle.importKey(
    "jwk",
    a.privateJwk,
    "Ed25519",
    false,
    ["sign"],
  );
  const pub = await crypto.subtle.importKey(
    "jwk",
    a.publicJwk,
    "Ed25519",
    false,
    ["verify"],
  );
  const data = new TextEncoder().encode("hello");
  const sig = await crypto.subtle.sign("Ed25519", priv, data);
  ok(await crypto.subtle.verify("Ed25519", pub, sig, data));
});

Deno.test("generateSigningKey refuses a bad key id", async () => {
  for (const bad of ["", "a b", "x".repeat(129), "k/1"]) {
    await rejects(generateSigningKey(bad), TypeError);
  }
});
