import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { decodeBase64, pae, PROGRAM_PAYLOAD_TYPE } from "./dsse.ts";
import { generateSigningKey } from "./signing_key.ts";
import { signManifest } from "./sign_manifest.ts";
import { _testManifest } from "./_test_manifest.ts";

Deno.test("signManifest makes a DSSE envelope whose signature covers PAE(type, manifest)", async () => {
  const key = await generateSigningKey("k1");
  const manifest = _testManifest();
  const envelope = await signManifest(manifest, key.privateJwk);
  equal(envelope.payloadType, PROGRAM_PAYLOAD_TYPE);
  equal(envelope.signatures.length, 1);
  equal(envelope.signatures[0]?.keyid, "k1");
  const payload = decodeBase64(envelope.payload);
  const sig = decodeBase64(envelope.signatures[0]?.sig ?? "");
  ok(payload !== undefined && sig !== undefined);
  deepStrictEqual(JSON.parse(new TextDecoder().decode(payload)), manifest);
  equal(sig.byteLength, 64);
  const pub = await crypto.subtle.importKey(
    "jwk",
    key.publicJwk,
    "Ed25519",
    false,
    ["verify"],
  );
  ok(
    await crypto.subtle.verify(
      "Ed25519",
      pub,
      sig,
      pae(PROGRAM_PAYLOAD_TYPE, payload),
    ),
  );
  // The signature is over PAE, not the bare payload.
  equal(await crypto.subtle.verify("Ed25519", pub, sig, payload), false);
});

Deno.test("signManifest takes the key id from options over the JWK kid", async () => {
  const key = await generateSigningKey("k1");
  const envelope = await signManifest(_testManifest(), key.privateJwk, {
    keyId: "other",
  });
  equal(envelope.signatures[0]?.keyid, "other");
  const { kid: _, ...anonymous } = key.privateJwk;
  await rejects(signManifest(_testManifest(), anonymous), /no key id/);
});

Deno.test("signManifest refuses a manifest that breaks the schema, naming the field", async () => {
  const key = await generateSigningKey("k1");
  await rejects(
    signManifest(_testManifest({ version: 0 }), key.privateJwk),
    (error: Error) =>
      error instanceof TypeError &&
      error.message.startsWith('Cannot sign program "pick-mug": version'),
  );
  await rejects(
    signManifest(
      _testManifest({
        budgets: { timeoutMs: 1, memoryBytes: 1, maxSkillCalls: -1 },
      }),
      key.privateJwk,
    ),
    /budgets\.maxSkillCalls/,
  );
});

Deno.test("signManifest refuses a key that is not an Ed25519 private JWK", async () => {
  const key = await generateSigningKey("k1");
  await rejects(
    signManifest(_testManifest(), key.publicJwk),
    /not an Ed25519 private JWK/,
  );
  await rejects(
    signManifest(_testManifest(), { ...key.privateJwk, d: "AAAA" }),
    /cannot be imported/,
  );
});
