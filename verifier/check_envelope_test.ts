import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  checkEnvelope,
  type EnvelopeCheck,
  type EnvelopeCheckOptions,
} from "./check_envelope.ts";
import {
  encodeBase64,
  type Envelope,
  pae,
  PROGRAM_PAYLOAD_TYPE,
} from "./dsse.ts";
import type { Manifest } from "./manifest.ts";
import { generateSigningKey } from "./signing_key.ts";
import { signManifest } from "./sign_manifest.ts";
import type { TrustStore } from "./trust_store.ts";
import { _TEST_NOW, _testManifest } from "./_test_manifest.ts";

const signer = await generateSigningKey("k1");
const other = await generateSigningKey("k2");

function options(
  patch: Partial<EnvelopeCheckOptions> = {},
): EnvelopeCheckOptions {
  return {
    trustStore: signer.trustStore,
    robotId: "arm-01",
    now: _TEST_NOW,
    ...patch,
  };
}

async function sign(patch: Partial<Manifest> = {}): Promise<Envelope> {
  return await signManifest(_testManifest(patch), signer.privateJwk);
}

function refused(check: EnvelopeCheck, reason: string, field?: string): string {
  ok(!check.ok, `expected ${reason}, got ok`);
  equal(check.reason, reason, check.message);
  if (field !== undefined) equal(check.field, field);
  return check.message;
}

async function sha256(envelope: Envelope): Promise<string> {
  const bytes = Uint8Array.fromBase64(envelope.payload);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("a signed manifest round-trips as text, bytes and value", async () => {
  const envelope = await sign();
  const text = JSON.stringify(envelope);
  for (const input of [text, new TextEncoder().encode(text), envelope]) {
    const check = await checkEnvelope(input, options());
    ok(check.ok, check.ok ? "" : check.message);
    deepStrictEqual(check.manifest, _testManifest());
    equal(check.keyId, "k1");
    equal(check.payloadSha256, await sha256(envelope));
    equal(check.idempotent, false);
  }
});

Deno.test("refusals name the program, the key and the field", async () => {
  const envelope = await signManifest(_testManifest(), other.privateJwk, {
    keyId: "k9",
  });
  const message = refused(
    await checkEnvelope(envelope, options()),
    "unknown_key",
    "signatures[0].keyid",
  );
  equal(
    message,
    'Cannot accept program "pick-mug": key "k9" is not in the trust store',
  );
});

Deno.test("trust: revoked, unauthorized, out-of-window keys and bad signatures", async () => {
  const envelope = await sign();
  const base = signer.trustStore.keys[0]!;
  const store = (patch: Partial<TrustStore["keys"][number]>): TrustStore => ({
    keys: [{ ...base, ...patch }],
  });
  refused(
    await checkEnvelope(
      envelope,
      options({ trustStore: store({ revoked: true }) }),
    ),
    "revoked_key",
  );
  ok(
    refused(
      await checkEnvelope(
        envelope,
        options({ trustStore: store({ roles: ["operator"] }) }),
      ),
      "key_not_authorized",
    ).includes('does not have the role "program-signer" (roles: "operator")'),
  );
  refused(
    await checkEnvelope(
      envelope,
      options({ trustStore: store({ notAfter: "2026-05-01T00:00:00Z" }) }),
    ),
    "expired",
    "signatures[0].keyid",
  );
  refused(
    await checkEnvelope(
      envelope,
      options({ trustStore: store({ notBefore: "2026-07-01T00:00:00Z" }) }),
    ),
    "not_yet_valid",
  );
  // k1's entry holds k2's public key: the signature does not verify.
  refused(
    await checkEnvelope(
      envelope,
      options({
        trustStore: store({
          publicKeyJwk: other.trustStore.keys[0]!.publicKeyJwk,
        }),
      }),
    ),
    "bad_signature",
    "signatures[0].sig",
  );
});

Deno.test("one verifying signature from an authorized key is enough", async () => {
  const envelope = await sign();
  const foreign = await signManifest(_testManifest(), other.privateJwk, {
    keyId: "k9",
  });
  const both = {
    ...envelope,
    signatures: [foreign.signatures[0]!, envelope.signatures[0]!],
  };
  const check = await checkEnvelope(both, options());
  ok(check.ok);
  equal(check.keyId, "k1");
  // When none verifies, the signature that got furthest decides the reason.
  const forged = { keyid: "k1", sig: foreign.signatures[0]!.sig };
  refused(
    await checkEnvelope({
      ...envelope,
      signatures: [foreign.signatures[0]!, forged],
    }, options()),
    "bad_signature",
    "signatures[1].sig",
  );
});

Deno.test("manifest checks run only after the signature verifies", async () => {
  // A broken manifest signed by an unknown key is refused for the key.
  const payload = encodeBase64(new TextEncoder().encode('{"programId":"x"'));
  const envelope = { ...(await sign()), payload };
  refused(
    await checkEnvelope(
      { ...envelope, signatures: [{ keyid: "k9", sig: "" }] },
      options(),
    ),
    "unknown_key",
  );
  refused(await checkEnvelope(envelope, options()), "bad_signature");
});

Deno.test("a validly signed but broken manifest is malformed_manifest naming the field", async () => {
  const bytes = new TextEncoder().encode(
    JSON.stringify({ ..._testManifest(), version: "3" }),
  );
  const sig = await crypto.subtle.sign(
    "Ed25519",
    await crypto.subtle.importKey("jwk", signer.privateJwk, "Ed25519", false, [
      "sign",
    ]),
    pae(PROGRAM_PAYLOAD_TYPE, bytes),
  );
  const envelope = {
    payloadType: PROGRAM_PAYLOAD_TYPE,
    payload: encodeBase64(bytes),
    signatures: [{ keyid: "k1", sig: encodeBase64(new Uint8Array(sig)) }],
  };
  const message = refused(
    await checkEnvelope(envelope, options()),
    "malformed_manifest",
    "version",
  );
  equal(
    message,
    'Cannot accept program "pick-mug": the manifest is invalid: version must be a number, got "3"',
  );
});

Deno.test("api version, robot target, validity window and caps", async () => {
  const caps = {
    timeoutMs: 60_000,
    memoryBytes: 67_108_864,
    maxSkillCalls: 1_000,
  };
  ok(
    (await checkEnvelope(
      await sign(),
      options({ apiVersion: "tabletop/1", caps }),
    )).ok,
  );
  refused(
    await checkEnvelope(await sign(), options({ apiVersion: "tabletop/2" })),
    "api_mismatch",
    "apiVersion",
  );
  ok(
    (await checkEnvelope(
      await sign({ robots: ["arm-02", "arm-01"] }),
      options(),
    )).ok,
  );
  ok(
    refused(
      await checkEnvelope(await sign({ robots: ["arm-02"] }), options()),
      "wrong_robot",
      "robots",
    ).includes('does not include this robot "arm-01"'),
  );
  // Expiry is strict; issue time honours the clock skew (default one minute).
  const expired = await sign({ expiresAt: "2026-06-01T00:59:30Z" });
  refused(await checkEnvelope(expired, options()), "expired", "expiresAt");
  refused(
    await checkEnvelope(expired, options({ clockSkewMs: 0 })),
    "expired",
    "expiresAt",
  );
  const early = await sign({ issuedAt: "2026-06-01T01:00:30Z" });
  ok((await checkEnvelope(early, options())).ok);
  refused(
    await checkEnvelope(early, options({ clockSkewMs: 0 })),
    "not_yet_valid",
    "issuedAt",
  );
  for (const budget of ["timeoutMs", "memoryBytes", "maxSkillCalls"] as const) {
    const budgets = { ..._testManifest().budgets, [budget]: caps[budget] + 1 };
    refused(
      await checkEnvelope(await sign({ budgets }), options({ caps })),
      "budget_above_caps",
      `budgets.${budget}`,
    );
    const equalCaps = { ..._testManifest().budgets, [budget]: caps[budget] };
    ok(
      (await checkEnvelope(
        await sign({ budgets: equalCaps }),
        options({ caps }),
      )).ok,
    );
  }
});

Deno.test("replay: newer versions pass, older or same differ is refused, identical is idempotent", async () => {
  const v3 = await sign();
  const last = { version: 3, payloadSha256: await sha256(v3) };
  const lastAccepted = (id: string) => id === "pick-mug" ? last : undefined;
  const again = await checkEnvelope(v3, options({ lastAccepted }));
  ok(again.ok && again.idempotent);
  const v4 = await checkEnvelope(
    await sign({ version: 4 }),
    options({ lastAccepted }),
  );
  ok(v4.ok && !v4.idempotent);
  refused(
    await checkEnvelope(await sign({ version: 2 }), options({ lastAccepted })),
    "replayed_version",
    "version",
  );
  ok(
    refused(
      await checkEnvelope(
        await sign({ checks: [] }),
        options({ lastAccepted }),
      ),
      "replayed_version",
    ).includes("bytes differ"),
  );
  ok(
    (await checkEnvelope(
      await sign({ programId: "other" }),
      options({ lastAccepted }),
    )).ok,
  );
});

Deno.test("an error from lastAccepted propagates; bad options throw TypeError", async () => {
  const envelope = await sign();
  await rejects(
    checkEnvelope(
      envelope,
      options({
        lastAccepted: () => {
          throw new RangeError("state is gone");
        },
      }),
    ),
    RangeError,
  );
  await rejects(
    checkEnvelope(
      envelope,
      { robotId: "arm-01" } as unknown as EnvelopeCheckOptions,
    ),
    TypeError,
  );
  await rejects(
    checkEnvelope(envelope, options({ now: new Date("not a date") })),
    TypeError,
  );
  await rejects(
    checkEnvelope(envelope, options({ clockSkewMs: Number.NaN })),
    TypeError,
  );
});
