import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { TABLETOP_API } from "../../skills-bridge/mod.ts";
import {
  type CatchSite,
  checkEnvelope,
  type Envelope,
  type EnvelopeCheck,
  type EnvelopeCheckOptions,
  generateSigningKey,
  type Manifest,
  PROGRAM_PAYLOAD_TYPE,
  signManifest,
  verifyProgram,
} from "../../verifier/mod.ts";
import { verifyRun } from "./verify_run.ts";
import { VerifierPool, VerifierPoolClosedError } from "./verifier_pool.ts";
import { _testManifest } from "../../verifier/_test_manifest.ts";
import { _signDsse } from "../../verifier/_sign_dsse.ts";
import { parsesOfAtLeast } from "../../test/_json_parse_spy.ts";

const NOW = new Date("2026-06-01T01:00:00Z");
const signer = await generateSigningKey("k1");
const other = await generateSigningKey("k9");
const trustStore = {
  keys: [
    ...signer.trustStore.keys,
    { ...other.trustStore.keys[0]!, revoked: true },
  ],
};

/** About 20 KB of an accepted program: worth sending to the worker. */
function largeSource(): string {
  const lines: string[] = [];
  for (let i = 0; lines.join("\n").length < 20_000; i++) {
    lines.push(`const b${i} = detect("red block");`);
  }
  return lines.join("\n");
}

function manifest(patch: Partial<Manifest> = {}): Manifest {
  return _testManifest({
    programId: "big",
    source: largeSource(),
    instruction: null,
    robots: ["arm-01"],
    checks: ["holding() === null"],
    provenance: { model: "test", attempts: 1 },
    ...patch,
  });
}

async function signed(patch: Partial<Manifest> = {}): Promise<string> {
  return JSON.stringify(await signManifest(manifest(patch), signer.privateJwk));
}

/** Signs any payload bytes (signManifest refuses a broken manifest). */
async function signBytes(payload: Uint8Array<ArrayBuffer>): Promise<string> {
  return JSON.stringify(
    await _signDsse(
      PROGRAM_PAYLOAD_TYPE,
      payload,
      signer.privateJwk,
      "k1",
      "a test payload",
    ),
  );
}

function options(
  patch: Partial<EnvelopeCheckOptions> = {},
): EnvelopeCheckOptions {
  return {
    trustStore,
    robotId: "arm-01",
    now: NOW,
    apiVersion: "tabletop/1",
    caps: { timeoutMs: 60_000, memoryBytes: 67_108_864, maxSkillCalls: 1000 },
    ...patch,
  };
}

const v3 = await signed();
const v3Sha256 =
  (await checkEnvelope(v3, options()) as { payloadSha256: string })
    .payloadSha256;

/** Envelopes over the inline limit, valid and broken in every way the check tells apart. */
async function corpus(): Promise<[string, string | Uint8Array][]> {
  const text = v3;
  const parsed = JSON.parse(text) as Envelope;
  const manifestText = JSON.stringify(manifest());
  const encoder = new TextEncoder();
  const random = prng(20260601);
  const cases: [string, string | Uint8Array][] = [
    ["valid text", text],
    ["valid bytes", encoder.encode(text)],
    ["not UTF-8", Uint8Array.from([0xff, ...encoder.encode(text)])],
    ["not JSON", text.slice(0, -1)],
    ["duplicate key", text.replace(/\}$/, `,"payloadType":"x"}`)],
    ["too deep", "[".repeat(40) + " ".repeat(5000) + "]".repeat(40)],
    ["not an envelope", JSON.stringify({ ...parsed, signatures: "none" })],
    [
      "other payload type",
      JSON.stringify({ ...parsed, payloadType: "text/plain" }),
    ],
    [
      "bad base64",
      JSON.stringify({ ...parsed, payload: `${parsed.payload}A` }),
    ],
    [
      "unknown key",
      JSON.stringify({
        ...parsed,
        signatures: [{ ...parsed.signatures[0]!, keyid: "k7" }],
      }),
    ],
    [
      "revoked key",
      JSON.stringify({
        ...parsed,
        signatures: [{ ...parsed.signatures[0]!, keyid: "k9" }],
      }),
    ],
    [
      "bad signature",
      JSON.stringify({
        ...parsed,
        signatures: [{ keyid: "k1", sig: new Uint8Array(64).toBase64() }],
      }),
    ],
    [
      "duplicate key in the manifest",
      await signBytes(
        encoder.encode(manifestText.replace(/\}$/, `,"version":4}`)),
      ),
    ],
    [
      "manifest not UTF-8",
      await signBytes(Uint8Array.from([0xfe, ...encoder.encode(manifestText)])),
    ],
    [
      "unknown manifest field",
      await signBytes(
        encoder.encode(JSON.stringify({ ...manifest(), sudo: true })),
      ),
    ],
    ["expired", await signed({ expiresAt: "2026-06-01T00:30:00Z" })],
    ["other robot", await signed({ robots: ["arm-02"] })],
    ["other API", await signed({ apiVersion: "tabletop/2" })],
    [
      "budget above caps",
      await signed({
        budgets: { timeoutMs: 90_000, memoryBytes: 1, maxSkillCalls: 1 },
      }),
    ],
    [
      "valid too long",
      await signed({ expiresAt: "2027-06-01T00:00:00Z" }),
    ],
  ];
  for (let i = 0; i < 30; i++) {
    const at = Math.floor(random() * text.length);
    const char = String.fromCharCode(32 + Math.floor(random() * 95));
    cases.push([
      `mutation ${i}`,
      i % 2 === 0
        ? text.slice(0, at) + char + text.slice(at + 1)
        : text.slice(0, at) + text.slice(at + 1),
    ]);
  }
  return cases;
}

Deno.test("VerifierPool.checkEnvelope in the worker: the same outcome as checkEnvelope, refusal for refusal", async () => {
  using pool = new VerifierPool();
  const reasons = new Set<string>();
  for (const [name, envelope] of await corpus()) {
    ok(envelope.length > 4096, name);
    const inline = await checkEnvelope(envelope, options());
    const pooled = await pool.checkEnvelope(envelope, options());
    deepStrictEqual(pooled, inline, name);
    reasons.add(inline.ok ? "ok" : inline.reason);
  }
  deepStrictEqual(
    [...reasons].sort(),
    [
      "api_mismatch",
      "bad_encoding",
      "bad_payload_type",
      "bad_signature",
      "budget_above_caps",
      "duplicate_key",
      "expired",
      "lifetime_too_long",
      "malformed_envelope",
      "malformed_manifest",
      "ok",
      "revoked_key",
      "unknown_key",
      "wrong_robot",
    ],
  );
});

Deno.test("VerifierPool.checkEnvelope checks the version against lastAccepted on the calling thread", async () => {
  using pool = new VerifierPool();
  const asked: string[] = [];
  const accepted = (version: number, payloadSha256: string) =>
    options({
      lastAccepted: (id) => {
        asked.push(id);
        return { version, payloadSha256 };
      },
    });
  const again = await pool.checkEnvelope(v3, accepted(3, v3Sha256));
  ok(again.ok && again.idempotent, JSON.stringify(again));
  const replayed = await pool.checkEnvelope(v3, accepted(3, "0".repeat(64)));
  deepStrictEqual(
    replayed,
    await checkEnvelope(v3, accepted(3, "0".repeat(64))),
  );
  equal(replayed.ok ? "" : replayed.reason, "replayed_version");
  const superseded = await pool.checkEnvelope(v3, {
    ...accepted(4, "0".repeat(64)),
    purpose: "run",
  });
  equal(superseded.ok ? "" : superseded.reason, "superseded_version");
  const newer = await pool.checkEnvelope(v3, accepted(2, "0".repeat(64)));
  ok(newer.ok && !newer.idempotent);
  deepStrictEqual(asked, ["big", "big", "big", "big", "big"]);
});

Deno.test("VerifierPool.checkEnvelope leaves the event loop free while it checks a large envelope", async () => {
  using pool = new VerifierPool();
  // A large envelope: strictly parsing ~900 KB takes the worker a while.
  const trace = Array.from({ length: 12_000 }, (_, i) => ({
    step: i,
    note: `attempt ${i} of the synthesis loop`,
  }));
  const heavy = await signed({
    provenance: { model: "test", attempts: 1, trace },
  });
  ok(heavy.length > 800_000);
  const small = JSON.stringify(
    await signManifest(
      manifest({ source: 'say("hi");' }),
      signer.privateJwk,
    ),
  );
  ok(small.length < 4096);
  ok((await pool.checkEnvelope(heavy, options())).ok, "warm");
  const order: string[] = [];
  const parsedHere = await parsesOfAtLeast(heavy.length, () =>
    Promise.all([
      pool.checkEnvelope(heavy, options()).then((check) => {
        order.push(`heavy ${check.ok}`);
      }),
      new Promise((resolve) => setTimeout(resolve, 0)).then(() => {
        order.push("timer");
      }),
      pool.checkEnvelope(small, options()).then((check) => {
        order.push(`small ${check.ok}`);
      }),
    ]));
  equal(order.at(-1), "heavy true", order.join(", "));
  equal(parsedHere, 0, "the large envelope is parsed in the worker");
});

Deno.test("VerifierPool.checkEnvelope of a disposed pool is refused, also while in progress", async () => {
  const pool = new VerifierPool();
  const pending = pool.checkEnvelope(v3, options());
  pool[Symbol.dispose]();
  await rejects(pending, VerifierPoolClosedError);
  await rejects(pool.checkEnvelope(v3, options()), VerifierPoolClosedError);
  await rejects(
    pool.checkEnvelope('{"payloadType": "small"}', options()),
    VerifierPoolClosedError,
  );
});

Deno.test("VerifierPool.checkEnvelope refuses options it cannot send to the worker", async () => {
  using pool = new VerifierPool();
  const check: Promise<EnvelopeCheck> = pool.checkEnvelope(v3, {
    ...options(),
    caps: {
      timeoutMs: 1,
      memoryBytes: 1,
      maxSkillCalls: 1,
      // @ts-expect-error: not a cap; a function cannot be cloned
      extra: () => {},
    },
  });
  await rejects(check, TypeError);
  // The pool carries on.
  ok((await pool.checkEnvelope(v3, options())).ok);
});

/** mulberry32: a small seeded PRNG, so the mutations are the same every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("VerifierPool's worker lowers its own thread's priority when the process may", async () => {
  const { getPriority } = await import("node:os");
  const before = getPriority();
  const lines: string[] = [];
  using pool = new VerifierPool({
    inlineChars: 0,
    log: (level, message) => lines.push(`${level}: ${message}`),
  });
  equal(pool.workerPriority, null);
  const report = await pool.verify('say("hi");', []);
  ok(report.ok);
  // The operator can see it in the service's log.
  const priority = pool.workerPriority as
    | { nice: number }
    | { error: string }
    | null;
  ok(priority !== null);
  deepStrictEqual(
    lines,
    "nice" in priority
      ? [`info: verifier worker ready at nice ${priority.nice}`]
      : [
        `warn: verifier worker ready at the core's priority: ${priority.error}`,
      ],
  );

  // The tests run with --allow-sys: on Linux the worker is at nice 5 (unless
  // the tests themselves run nicer than that, which it may not undo), and
  // the test's own thread, the core's event loop, keeps its priority.
  if (Deno.build.os === "linux" && before <= 5) {
    deepStrictEqual(pool.workerPriority, { nice: 5 });
  } else ok(pool.workerPriority !== null && "error" in pool.workerPriority);
  equal(getPriority(), before);
});

Deno.test("VerifierPool keeps an accepted source's catch sites, verified inline or in its worker", async () => {
  using pool = new VerifierPool();
  const small = `function tryPick(id) {
  try { pick(id); return true; } catch (error) { return false; }
}
while (!tryPick("red_block")) {
  try { wait(0.1); } catch { say("no wait"); }
}
try { place("blue_bowl"); } catch (e) { try { say(String(e)); } catch (f) {} }`;
  // Over the pool's inline bound: verified in its worker.
  const large = `${small}\n${
    "// padding to send it to the worker\n".repeat(150)
  }${'try { say("end"); } catch (last) { say("x"); }\n'}`;
  ok(small.length <= 4096 && large.length > 4096);
  for (const source of [small, large]) {
    equal(pool.catchSites(source), undefined);
    const report = await pool.verify(source, ["holding() === null"]);
    ok(report.ok, JSON.stringify(report.issues));
    const sites: CatchSite[] = [];
    verifyProgram(source, { api: TABLETOP_API, catchSites: sites });
    deepStrictEqual(pool.catchSites(source), sites);
  }
  deepStrictEqual(pool.catchSites(large)?.map((s) => s.name), [
    "error",
    "e",
    "f",
    "last",
  ]);
  // A refused source gets none: it never runs.
  const refused = "try { pick('a'); } catch (e) { globalThis.x = 1; }";
  ok(!(await pool.verify(refused, [])).ok);
  equal(pool.catchSites(refused), undefined);
});

Deno.test("VerifierPool sends a short source that needs much work to its worker, not the calling thread", async () => {
  using pool = new VerifierPool();
  // 2952 characters, accepted, whose key proofs build long string patterns:
  // about 4 200 steps, over the calling thread's bound.
  const base = [..."abcdefgh"].map((c) => `${c}${"x".repeat(200)}: 0`)
    .join(", ");
  let costly = `const o0 = {${base}};\n`;
  for (let i = 1; i <= 20; i++) {
    costly += `const o${i} = {[Object.keys(o${i - 1})[0]]: 0, [Object.keys(o${
      i - 1
    })[0]]: 0};\n`;
  }
  ok(costly.length <= 4096);
  const bounded = verifyRun(costly, [], TABLETOP_API, { maxSteps: 3000 });
  ok(bounded.issues.some((issue) => issue.code === "too_complex"));
  // Inline, a report is there before any timer fires; from the worker, after.
  for (
    const [source, expected] of [
      ['say("hi");', "inline"],
      [costly, "worker"],
    ] as const
  ) {
    const { where, value } = await answeredWhere(() => pool.verify(source, []));
    equal(where, expected);
    ok(value.ok, JSON.stringify(value.issues));
  }
});

/** Whether `pool` answered `call` before a timer fired (inline) or after (its worker). */
async function answeredWhere<T>(call: () => Promise<T>): Promise<
  { where: "inline" | "worker"; value: T }
> {
  const seen: string[] = [];
  const answer = call().then((value) => {
    seen.push("answered");
    return value;
  });
  const timer = new Promise((resolve) => setTimeout(resolve, 0))
    .then(() => seen.push("timer"));
  const value = await answer;
  await timer;
  return { where: seen[0] === "answered" ? "inline" : "worker", value };
}

Deno.test("VerifierPool counts a work bound met after the first 100 issues: the report is the full one", async () => {
  using pool = new VerifierPool();
  // 100 issues, then work past the inline bound, then 100 more issues.
  const source = "Date;".repeat(100) + "let o={},k=1;o[k];[" +
    "0,".repeat(1400) +
    "];\n" + "Proxy;".repeat(100);
  ok(source.length <= 4096);
  const full = verifyRun(source, [], TABLETOP_API);
  const { where, value } = await answeredWhere(() => pool.verify(source, []));
  equal(where, "worker");
  equal(value.issues.length, 100);
  equal(value.omitted, full.omitted);
  ok(!value.issues.some((issue) => issue.code === "too_complex"));
});

Deno.test("VerifierPool bounds a program and its checks together on the calling thread", async () => {
  using pool = new VerifierPool();
  // Each check alone is under the inline bound; sixteen of them are not.
  const check = (i: number) =>
    `(()=>{let x="a${i}";x=x+"b";let y0=x+x;let y1=x+x;let y2=x+x;let y3=x+x;return {}[x]})()`;
  const checks = Array.from({ length: 16 }, (_, i) => check(i));
  equal(
    (await answeredWhere(() => pool.verify("holding();", checks.slice(0, 1))))
      .where,
    "inline",
  );
  const { where, value } = await answeredWhere(() =>
    pool.verify("holding();", checks)
  );
  equal(where, "worker");
  deepStrictEqual(value, verifyRun("holding();", checks, TABLETOP_API));
});

Deno.test("VerifierPool refuses an envelope over its size limit at once, without copying it to the worker", async () => {
  using pool = new VerifierPool();
  const huge = "x".repeat(2 * 1024 * 1024);
  const { where, value } = await answeredWhere(() =>
    pool.checkEnvelope(huge, options())
  );
  equal(where, "inline");
  equal(value.ok, false);
  deepStrictEqual(value, await checkEnvelope(huge, options()));
});

Deno.test("VerifierPool.verify of a source or check that is no string is a rejected promise", async () => {
  using pool = new VerifierPool();
  const verify = pool.verify.bind(pool) as (
    source: unknown,
    checks: unknown,
  ) => Promise<unknown>;
  await rejects(verify(null, []), TypeError);
  await rejects(verify("holding();", [null]), TypeError);
  await rejects(verify("holding();", [3]), TypeError);
  await rejects(verify("holding();", "holding()"), TypeError);
});
