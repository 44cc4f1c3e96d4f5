/**
 * The corpus of bad signed-program envelopes, each refused by `checkEnvelope`
 * with its reason, plus a deterministic fuzz loop of mutated envelopes that
 * must all be refused without throwing.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import {
  checkEnvelope,
  type Envelope,
  type EnvelopeCheck,
  type EnvelopeCheckOptions,
  type EnvelopeRejectReason,
  generateSigningKey,
  type Manifest,
  pae,
  PROGRAM_PAYLOAD_TYPE,
  signManifest,
  type TrustStore,
} from "../verifier/mod.ts";

const NOW = new Date("2026-06-01T01:00:00Z");
const CAPS = {
  timeoutMs: 60_000,
  memoryBytes: 67_108_864,
  maxSkillCalls: 1_000,
};

function manifest(patch: Partial<Manifest> = {}): Manifest {
  return {
    programId: "pick-mug",
    version: 3,
    source: 'const mug = detect("red mug")[0];\npick(mug.id);\nplace("tray");',
    instruction: "put the mug on the tray",
    apiVersion: "tabletop/1",
    robots: ["arm-01", "arm-02"],
    issuedAt: "2026-06-01T00:00:00Z",
    expiresAt: "2026-06-02T00:00:00Z",
    budgets: { timeoutMs: 30_000, memoryBytes: 16_777_216, maxSkillCalls: 50 },
    checks: ["holding() === null"],
    provenance: { model: "test-model", attempts: 2, temperature: 0 },
    ...patch,
  };
}

const signer = await generateSigningKey("k1");
const revoked = await generateSigningKey("k-old");
const operator = await generateSigningKey("k-op", { roles: ["operator"] });
const stranger = await generateSigningKey("k9");

const trustStore: TrustStore = {
  keys: [
    ...signer.trustStore.keys,
    { ...revoked.trustStore.keys[0]!, revoked: true },
    ...operator.trustStore.keys,
  ],
};

const v3 = await signManifest(manifest(), signer.privateJwk);
const v3Sha256 = await sha256(v3.payload);

/** The robot has accepted version 3 of "pick-mug" (this envelope). */
function options(
  patch: Partial<EnvelopeCheckOptions> = {},
): EnvelopeCheckOptions {
  return {
    trustStore,
    robotId: "arm-01",
    now: NOW,
    apiVersion: "tabletop/1",
    caps: CAPS,
    lastAccepted: (id) =>
      id === "pick-mug" ? { version: 3, payloadSha256: v3Sha256 } : undefined,
    ...patch,
  };
}

async function sha256(payload: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    Uint8Array.fromBase64(payload),
  );
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

async function signed(patch: Partial<Manifest>): Promise<Envelope> {
  return await signManifest(manifest(patch), signer.privateJwk);
}

function flipPayloadByte(envelope: Envelope, at: number): Envelope {
  const bytes = Uint8Array.fromBase64(envelope.payload);
  bytes[at] = bytes[at]! ^ 0x01;
  return { ...envelope, payload: bytes.toBase64() };
}

const REASONS: ReadonlySet<EnvelopeRejectReason> = new Set([
  "malformed_envelope",
  "too_large",
  "duplicate_key",
  "bad_payload_type",
  "bad_encoding",
  "malformed_manifest",
  "unknown_key",
  "revoked_key",
  "key_not_authorized",
  "bad_signature",
  "expired",
  "not_yet_valid",
  "lifetime_too_long",
  "replayed_version",
  "superseded_version",
  "wrong_robot",
  "budget_above_caps",
  "api_mismatch",
]);

function assertRefused(
  check: EnvelopeCheck,
  reason: EnvelopeRejectReason,
  name: string,
) {
  ok(!check.ok, `${name}: expected ${reason}, got ok`);
  equal(check.reason, reason, `${name}: ${check.message}`);
  ok(
    check.message.startsWith("Cannot accept program"),
    `${name}: ${check.message}`,
  );
}

const tenMegabytes = "x".repeat(10 * 1024 * 1024);
const text = JSON.stringify(v3);
const otherProgram = await signed({
  programId: "wipe-table",
  version: 9,
  source: "for (const o of detect()) { pick(o.id); place({ x: 0, y: -0.5 }); }",
});

/** [name, envelope, reason, field?] */
const corpus: [string, unknown, EnvelopeRejectReason, string?][] = [
  ["truncated JSON", text.slice(0, text.length - 7), "malformed_envelope"],
  ["empty text", "", "malformed_envelope"],
  ["JSON null", "null", "malformed_envelope"],
  ["a JSON array", "[1,2,3]", "malformed_envelope"],
  [
    "deeply nested JSON",
    "[".repeat(400_000) + "]".repeat(400_000),
    "malformed_envelope",
  ],
  [
    "binary junk",
    Uint8Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 256),
    "malformed_envelope",
  ],
  ["undefined", undefined, "malformed_envelope"],
  ["a number", 42, "malformed_envelope"],
  [
    "missing payload",
    { payloadType: PROGRAM_PAYLOAD_TYPE, signatures: v3.signatures },
    "malformed_envelope",
    "payload",
  ],
  [
    "empty signatures",
    { ...v3, signatures: [] },
    "malformed_envelope",
    "signatures",
  ],
  [
    "signatures not an array",
    { ...v3, signatures: "k1" },
    "malformed_envelope",
    "signatures",
  ],
  [
    "17 signatures",
    { ...v3, signatures: Array(17).fill(v3.signatures[0]) },
    "malformed_envelope",
    "signatures",
  ],
  [
    "a 10 MB envelope (text)",
    JSON.stringify({ ...v3, payload: tenMegabytes }),
    "too_large",
  ],
  [
    "a 10 MB envelope (bytes)",
    new TextEncoder().encode(JSON.stringify({ ...v3, junk: tenMegabytes })),
    "too_large",
  ],
  [
    "a 10 MB envelope (value)",
    { ...v3, payload: btoa(tenMegabytes) },
    "too_large",
  ],
  [
    "wrong payload type",
    { ...v3, payloadType: "application/vnd.in-toto+json" },
    "bad_payload_type",
    "payloadType",
  ],
  [
    "bad base64 payload",
    { ...v3, payload: v3.payload.slice(0, -1) + "!" },
    "bad_encoding",
    "payload",
  ],
  [
    "URL-safe base64 payload",
    { ...v3, payload: "-_-_" },
    "bad_encoding",
    "payload",
  ],
  [
    "bad base64 signature",
    { ...v3, signatures: [{ keyid: "k1", sig: "not base64" }] },
    "bad_encoding",
    "signatures[0].sig",
  ],
  [
    "unknown key",
    await signManifest(manifest(), stranger.privateJwk),
    "unknown_key",
    "signatures[0].keyid",
  ],
  [
    "revoked key",
    await signManifest(manifest(), revoked.privateJwk),
    "revoked_key",
    "signatures[0].keyid",
  ],
  [
    "key without the signer role",
    await signManifest(manifest(), operator.privateJwk),
    "key_not_authorized",
    "signatures[0].keyid",
  ],
  [
    "stranger's signature under a trusted key id",
    await signManifest(manifest(), stranger.privateJwk, { keyId: "k1" }),
    "bad_signature",
    "signatures[0].sig",
  ],
  [
    "tampered payload",
    flipPayloadByte(v3, 40),
    "bad_signature",
    "signatures[0].sig",
  ],
  [
    "payload swapped between envelopes",
    { ...v3, payload: otherProgram.payload },
    "bad_signature",
    "signatures[0].sig",
  ],
  [
    "sig of wrong length",
    {
      ...v3,
      signatures: [{ keyid: "k1", sig: v3.signatures[0]!.sig.slice(0, 84) }],
    },
    "bad_signature",
    "signatures[0].sig",
  ],
  [
    "empty sig",
    { ...v3, signatures: [{ keyid: "k1", sig: "" }] },
    "bad_signature",
    "signatures[0].sig",
  ],
  [
    "expired",
    await signed({
      version: 4,
      issuedAt: "2026-05-01T00:00:00Z",
      expiresAt: "2026-05-31T00:00:00Z",
    }),
    "expired",
    "expiresAt",
  ],
  [
    "not yet valid",
    await signed({ version: 4, issuedAt: "2026-06-01T02:00:00Z" }),
    "not_yet_valid",
    "issuedAt",
  ],
  [
    "replayed older version",
    await signed({ version: 2 }),
    "replayed_version",
    "version",
  ],
  [
    "same version, different bytes",
    await signed({ instruction: "put the mug on the tray, gently" }),
    "replayed_version",
    "version",
  ],
  [
    "wrong robot",
    await signed({ version: 4, robots: ["arm-07"] }),
    "wrong_robot",
    "robots",
  ],
  [
    "timeout above the cap",
    await signed({
      version: 4,
      budgets: { ...manifest().budgets, timeoutMs: 600_000 },
    }),
    "budget_above_caps",
    "budgets.timeoutMs",
  ],
  [
    "memory above the cap",
    await signed({
      version: 4,
      budgets: { ...manifest().budgets, memoryBytes: 2 ** 31 },
    }),
    "budget_above_caps",
    "budgets.memoryBytes",
  ],
  [
    "skill calls above the cap",
    await signed({
      version: 4,
      budgets: { ...manifest().budgets, maxSkillCalls: 5_000 },
    }),
    "budget_above_caps",
    "budgets.maxSkillCalls",
  ],
  [
    "other API",
    await signed({ version: 4, apiVersion: "tabletop/2" }),
    "api_mismatch",
    "apiVersion",
  ],
];

Deno.test("each envelope of the corpus is refused with its reason", async () => {
  for (const [name, envelope, reason, field] of corpus) {
    const check = await checkEnvelope(envelope, options());
    assertRefused(check, reason, name);
    if (field !== undefined && !check.ok) equal(check.field, field, name);
  }
});

Deno.test("a manifest that is validly signed but broken is malformed_manifest", async () => {
  // Signed by hand: signManifest refuses to sign a broken manifest.
  const sign = signText;
  const cases: [string, string | Uint8Array, string][] = [
    [
      "truncated manifest JSON",
      JSON.stringify(manifest()).slice(0, 50),
      "payload",
    ],
    ["manifest not UTF-8", new Uint8Array([0xff, 0xfe]), "payload"],
    [
      "missing source",
      JSON.stringify({ ...manifest(), source: undefined }),
      "source",
    ],
    [
      "negative version",
      JSON.stringify({ ...manifest(), version: -1 }),
      "version",
    ],
    [
      "bad expiresAt",
      JSON.stringify({ ...manifest(), expiresAt: "tomorrow" }),
      "expiresAt",
    ],
    ["unknown field", JSON.stringify({ ...manifest(), sudo: true }), "payload"],
    [
      "deep provenance",
      JSON.stringify({
        ...manifest(),
        provenance: {
          model: "m",
          attempts: 1,
          trace: JSON.parse("[".repeat(100) + "]".repeat(100)),
        },
      }),
      "payload",
    ],
  ];
  for (const [name, body, field] of cases) {
    const envelope = await sign(body);
    const check = await checkEnvelope(envelope, options());
    assertRefused(check, "malformed_manifest", name);
    if (!check.ok) equal(check.field, field, `${name}: ${check.message}`);
  }
});

Deno.test("a byte-identical re-delivery is accepted as idempotent; a newer version as new", async () => {
  for (
    const input of [
      v3,
      JSON.stringify(v3),
      new TextEncoder().encode(JSON.stringify(v3)),
    ]
  ) {
    const again = await checkEnvelope(input, options());
    ok(again.ok, again.ok ? "" : again.message);
    equal(again.idempotent, true);
    equal(again.payloadSha256, v3Sha256);
    deepStrictEqual(again.manifest, manifest());
  }
  const v4 = await checkEnvelope(await signed({ version: 4 }), options());
  ok(v4.ok && !v4.idempotent && v4.keyId === "k1");
});

/** mulberry32: a small seeded PRNG, so the fuzz loop is the same every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(random: () => number, i: number): unknown {
  const pick = (n: number) => Math.floor(random() * n);
  const at = pick(text.length);
  const char = String.fromCharCode(32 + pick(95));
  switch (i % 10) {
    case 0: // replace one character
      return text.slice(0, at) + (text[at] === char ? "\u0001" : char) +
        text.slice(at + 1);
    case 1: // truncate
      return text.slice(0, at);
    case 2: // delete one character
      return text.slice(0, at) + text.slice(at + 1);
    case 3: // insert junk
      return text.slice(0, at) + char.repeat(1 + pick(8)) + text.slice(at);
    case 4: // random bytes
      return Uint8Array.from({ length: pick(2048) }, () => pick(256));
    case 5: // flip a payload byte
      return flipPayloadByte(
        v3,
        pick(Uint8Array.fromBase64(v3.payload).length),
      );
    case 6: { // flip a signature bit
      const sig = Uint8Array.fromBase64(v3.signatures[0]!.sig);
      const byte = pick(64);
      sig[byte] = sig[byte]! ^ (1 << pick(8));
      return { ...v3, signatures: [{ keyid: "k1", sig: sig.toBase64() }] };
    }
    case 7: { // random JSON values where the fields should be
      const junk = [null, 0, -1, 1e308, "", [], {}, [[[]]], true, "k1", {
        sig: 1,
      }];
      const value = junk[pick(junk.length)];
      const field = ["payloadType", "payload", "signatures"][pick(3)]!;
      return { ...v3, [field]: value };
    }
    case 8: // deeply nested or oversized
      return pick(2) === 0
        ? '{"a":'.repeat(50_000 + pick(50_000)) + "1" + "}".repeat(pick(10))
        : "[" + "0,".repeat(600_000) + "0]";
    default: { // the payload of the swapped program under other keys
      const keyid = ["k1", "k-old", "k-op", "k9", ""][pick(5)]!;
      return {
        ...v3,
        payload: otherProgram.payload,
        signatures: [{ keyid, sig: v3.signatures[0]!.sig }],
      };
    }
  }
}

Deno.test("1,000 mutated envelopes are all refused, none throws", async () => {
  const random = prng(20261125);
  const seen = new Map<string, number>();
  for (let i = 0; i < 1_000; i++) {
    const envelope = mutate(random, i);
    const check = await checkEnvelope(envelope, options());
    ok(!check.ok, `mutation ${i} was accepted`);
    ok(
      REASONS.has(check.reason),
      `mutation ${i}: unknown reason ${check.reason}`,
    );
    ok(check.message.startsWith("Cannot accept program"), check.message);
    seen.set(check.reason, (seen.get(check.reason) ?? 0) + 1);
  }
  // The loop reaches deep into the check, not only the JSON parser.
  for (
    const reason of [
      "malformed_envelope",
      "too_large",
      "bad_encoding",
      "bad_signature",
    ]
  ) {
    ok(
      (seen.get(reason) ?? 0) > 0,
      `no mutation was refused as ${reason}: ${[...seen]}`,
    );
  }
});

/** Signs payload text (or bytes) by hand, as a signer that allows anything would. */
async function signText(body: string | Uint8Array): Promise<Envelope> {
  const key = await crypto.subtle.importKey(
    "jwk",
    signer.privateJwk,
    "Ed25519",
    false,
    ["sign"],
  );
  const bytes = typeof body === "string"
    ? new TextEncoder().encode(body)
    : body;
  const sig = await crypto.subtle.sign(
    "Ed25519",
    key,
    pae(PROGRAM_PAYLOAD_TYPE, bytes),
  );
  return {
    payloadType: PROGRAM_PAYLOAD_TYPE,
    payload: bytes.toBase64(),
    signatures: [{ keyid: "k1", sig: new Uint8Array(sig).toBase64() }],
  };
}

Deno.test("a duplicate key anywhere is refused: envelope, manifest, nested object", async () => {
  const body = JSON.stringify(manifest({ programId: "dup", version: 1 }));
  const cases: [string, Promise<string | Envelope>][] = [
    [
      "envelope payloadType twice",
      Promise.resolve(
        text.replace(
          '{"payloadType":',
          '{"payloadType":"application/vnd.in-toto+json","payloadType":',
        ),
      ),
    ],
    [
      "envelope payload twice (first one another program's)",
      Promise.resolve(
        text.replace(
          '"payload":',
          `"payload":"${otherProgram.payload}","payload":`,
        ),
      ),
    ],
    [
      "a signature's keyid twice",
      Promise.resolve(
        text.replace('"keyid":"k1"', '"keyid":"k9","keyid":"k1"'),
      ),
    ],
    [
      "manifest robots twice",
      signText(body.replace('"robots":', '"robots":["arm-09"],"robots":')),
    ],
    [
      "manifest source twice, spelled with an escape",
      signText(
        body.replace('"source":', '"\\u0073ource":"say(\\"hi\\");","source":'),
      ),
    ],
    [
      "budgets.timeoutMs twice (nested)",
      signText(body.replace('"timeoutMs":', '"timeoutMs":1,"timeoutMs":')),
    ],
    [
      "provenance nested object with __proto__ twice",
      signText(
        body.replace(
          '"provenance":{',
          '"provenance":{"x":{"__proto__":1,"__proto__":2},',
        ),
      ),
    ],
  ];
  for (const [name, input] of cases) {
    const envelope = await input;
    const given = typeof envelope === "string"
      ? envelope
      : JSON.stringify(envelope);
    for (const form of [given, new TextEncoder().encode(given)]) {
      const check = await checkEnvelope(form, options());
      assertRefused(check, "duplicate_key", name);
      ok(!check.ok && check.message.includes("duplicate key"), name);
    }
  }
  // The same manifest without the duplicate is fine.
  ok((await checkEnvelope(await signText(body), options())).ok);
});

Deno.test("a manifest valid for longer than limits.maxManifestLifetimeDays is refused", async () => {
  const tenYears = await signed({
    programId: "old",
    version: 1,
    issuedAt: "2020-01-01T00:00:00Z",
    expiresAt: "2030-01-01T00:00:00Z",
  });
  assertRefused(
    await checkEnvelope(tenYears, options()),
    "lifetime_too_long",
    "ten years",
  );
  const epoch = await signed({
    programId: "epoch",
    version: 1,
    issuedAt: "1970-01-01T00:00:00Z",
    expiresAt: "9999-12-31T00:00:00Z",
  });
  const check = await checkEnvelope(epoch, options());
  assertRefused(check, "lifetime_too_long", "1970 to 9999");
  if (!check.ok) equal(check.field, "expiresAt");
  const ninety = await signed({
    programId: "ninety",
    version: 1,
    issuedAt: "2026-05-01T00:00:00Z",
    expiresAt: "2026-07-30T00:00:00Z",
  });
  ok((await checkEnvelope(ninety, options())).ok, "exactly 90 days is fine");
  assertRefused(
    await checkEnvelope(
      ninety,
      options({ limits: { maxManifestLifetimeDays: 30 } }),
    ),
    "lifetime_too_long",
    "a robot with a 30-day limit",
  );
  ok(
    (await checkEnvelope(
      tenYears,
      options({ limits: { maxManifestLifetimeDays: 4000 } }),
    )).ok,
    "a robot may allow longer",
  );
});

Deno.test("on run, only the newest accepted version may run", async () => {
  const v2 = await signed({ version: 2 });
  const v3Again = await signed({ version: 3, instruction: "other bytes" });
  const run = (patch: Partial<EnvelopeCheckOptions> = {}) =>
    options({ purpose: "run", ...patch });
  const newest = await checkEnvelope(v3, run());
  ok(newest.ok && newest.idempotent, "the accepted bytes run");
  assertRefused(
    await checkEnvelope(v2, run()),
    "superseded_version",
    "v2 after v3",
  );
  assertRefused(
    await checkEnvelope(v3Again, run()),
    "superseded_version",
    "other bytes for v3",
  );
  // Delivering v2 again is a replay, not a run.
  assertRefused(
    await checkEnvelope(v2, options()),
    "replayed_version",
    "deliver v2",
  );
  // Without replay state the run check cannot tell, and does not refuse.
  const { lastAccepted: _, ...stateless } = run();
  ok((await checkEnvelope(v2, stateless)).ok);
});
