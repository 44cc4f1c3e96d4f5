import { equal, ok, rejects } from "node:assert/strict";
import {
  checkCommand,
  type CommandCheck,
  type CommandCheckOptions,
} from "./check_command.ts";
import { COMMAND_PAYLOAD_TYPE } from "./operator_command.ts";
import { encodeBase64, type Envelope, pae } from "./dsse.ts";
import { generateSigningKey } from "./signing_key.ts";
import { type CommandInit, signCommand } from "./sign_command.ts";
import type { TrustStore } from "./trust_store.ts";

const NOW = new Date("2026-06-01T01:00:00Z");
const operator = await generateSigningKey("op-1", { roles: ["operator"] });
const signer = await generateSigningKey("k1", { roles: ["program-signer"] });
const revoked = await generateSigningKey("op-old", { roles: ["operator"] });
const stranger = await generateSigningKey("op-9", { roles: ["operator"] });
const trustStore: TrustStore = {
  keys: [
    ...operator.trustStore.keys,
    ...signer.trustStore.keys,
    { ...revoked.trustStore.keys[0]!, revoked: true },
  ],
};
const RUN: CommandInit = {
  command: "run",
  robot: "arm-01",
  programId: "pick-mug",
  version: 3,
};

function options(
  patch: Partial<CommandCheckOptions> = {},
): CommandCheckOptions {
  const seen = new Set<string>();
  return {
    trustStore,
    robotId: "arm-01",
    now: NOW,
    seenNonce: (nonce) => seen.has(nonce) || !seen.add(nonce),
    ...patch,
  };
}

async function sign(
  patch: Partial<CommandInit> = {},
  key: JsonWebKey = operator.privateJwk,
): Promise<string> {
  return JSON.stringify(
    await signCommand({ ...RUN, ...patch }, key, { now: NOW }),
  );
}

/** Signs arbitrary payload text with the operator key (for payloads signCommand refuses to make). */
async function signRaw(
  text: string,
  type = COMMAND_PAYLOAD_TYPE,
): Promise<string> {
  const payload = new TextEncoder().encode(text);
  const key = await crypto.subtle.importKey(
    "jwk",
    { ...operator.privateJwk, key_ops: ["sign"] },
    { name: "Ed25519" },
    false,
    ["sign"],
  );
  const sig = await crypto.subtle.sign("Ed25519", key, pae(type, payload));
  const envelope: Envelope = {
    payloadType: type,
    payload: encodeBase64(payload),
    signatures: [{ keyid: "op-1", sig: encodeBase64(new Uint8Array(sig)) }],
  };
  return JSON.stringify(envelope);
}

function refused(check: CommandCheck, reason: string): string {
  ok(!check.ok, `expected ${reason}, got ok`);
  equal(check.reason, reason, check.message);
  ok(
    check.message.startsWith("Cannot accept operator command: "),
    check.message,
  );
  return check.message;
}

const command = (patch: Record<string, unknown> = {}) =>
  JSON.stringify({
    command: "run",
    robot: "arm-01",
    programId: "pick-mug",
    issuedAt: "2026-06-01T00:59:00Z",
    expiresAt: "2026-06-01T01:04:00Z",
    nonce: "nonce-0123456789abcdef",
    ...patch,
  });

Deno.test("a signed command is accepted once, as text, bytes or value", async () => {
  const text = await sign();
  for (
    const input of [text, new TextEncoder().encode(text), JSON.parse(text)]
  ) {
    const check = await checkCommand(input, options());
    ok(check.ok, check.ok ? "" : check.message);
    equal(check.keyId, "op-1");
    equal(check.command.command, "run");
    equal(check.command.programId, "pick-mug");
    equal(check.command.version, 3);
  }
  const once = options();
  ok((await checkCommand(text, once)).ok);
  refused(await checkCommand(text, once), "replayed_nonce");
});

Deno.test("seenNonce is asked last, with the expiry, only for a command that passed", async () => {
  const asked: [string, string][] = [];
  const seenNonce = (nonce: string, expiresAt: Date) => {
    asked.push([nonce, expiresAt.toISOString()]);
    return false;
  };
  refused(
    await checkCommand(await sign({ robot: "arm-02" }), options({ seenNonce })),
    "wrong_robot",
  );
  equal(asked.length, 0);
  const check = await checkCommand(
    await sign(),
    options({
      seenNonce: async (n, e) => await Promise.resolve(seenNonce(n, e)),
    }),
  );
  ok(check.ok);
  equal(asked.length, 1);
  equal(asked[0]![1], "2026-06-01T01:05:00.000Z");
  await rejects(
    checkCommand(
      await sign(),
      options({
        seenNonce: () => {
          throw new Error("disk full");
        },
      }),
    ),
    /disk full/,
  );
});

Deno.test("each refusal has its reason", async () => {
  const cases: [string, Promise<string> | string][] = [
    ["bad_envelope", "not json"],
    ["bad_envelope", '{"payloadType":"x"}'],
    ["bad_envelope", new TextDecoder().decode(new Uint8Array([0xff]))],
    ["too_large", "x".repeat(70_000)],
    ["unknown_key", sign({}, stranger.privateJwk)],
    ["revoked_key", sign({}, revoked.privateJwk)],
    ["missing_role", sign({}, signer.privateJwk)],
    ["wrong_type", signRaw(command(), "application/vnd.cap-edge.program+json")],
    ["wrong_robot", sign({ robot: "arm-02" })],
    ["bad_command", signRaw(command({ robot: "*" }))],
    [
      "expired",
      sign({
        issuedAt: "2026-06-01T00:50:00Z",
        expiresAt: "2026-06-01T00:59:59Z",
      }),
    ],
    [
      "not_yet_valid",
      sign({
        issuedAt: "2026-06-01T01:02:00Z",
        expiresAt: "2026-06-01T01:05:00Z",
      }),
    ],
    [
      "window_too_long",
      signRaw(command({ expiresAt: "2026-06-01T01:09:01Z" })),
    ],
    [
      "window_too_long",
      signRaw(
        command({
          issuedAt: "1970-01-01T00:00:00Z",
          expiresAt: "9999-01-01T00:00:00Z",
        }),
      ),
    ],
    ["bad_command", signRaw(command({ command: "fly" }))],
    ["bad_command", signRaw(command({ programId: undefined }))],
    ["bad_command", signRaw(command({ extra: 1 }))],
    ["bad_command", signRaw(command({ nonce: "short" }))],
    ["bad_command", signRaw(command({ expiresAt: "2026-06-01T00:58:00Z" }))],
    ["bad_command", signRaw("[1]")],
    [
      "duplicate_key",
      signRaw(
        command().replace(
          '"robot":"arm-01"',
          '"robot":"arm-02","robot":"arm-01"',
        ),
      ),
    ],
    [
      "duplicate_key",
      signRaw(command().replace('"robot"', '"\\u0072obot":"arm-02","robot"')),
    ],
  ];
  for (const [reason, input] of cases) {
    refused(await checkCommand(await input, options()), reason);
  }
});

Deno.test("a duplicate key in the envelope itself is refused", async () => {
  const text = await sign();
  const forged = text.replace(
    '{"payloadType":',
    '{"payloadType":"x","payloadType":',
  );
  refused(await checkCommand(forged, options()), "duplicate_key");
  const nested = text.replace(
    '"keyid":"op-1"',
    '"keyid":"op-9","keyid":"op-1"',
  );
  refused(await checkCommand(nested, options()), "duplicate_key");
});

Deno.test("signatures: tampered payload, bad base64, wrong length", async () => {
  const envelope = JSON.parse(await sign()) as Envelope;
  const other = JSON.parse(
    await sign({ robot: "arm-01", version: 4 }),
  ) as Envelope;
  refused(
    await checkCommand({ ...envelope, payload: other.payload }, options()),
    "bad_signature",
  );
  refused(
    await checkCommand({
      ...envelope,
      signatures: [{ keyid: "op-1", sig: "!!" }],
    }, options()),
    "bad_signature",
  );
  refused(
    await checkCommand({
      ...envelope,
      signatures: [{ keyid: "op-1", sig: "AAAA" }],
    }, options()),
    "bad_signature",
  );
  refused(
    await checkCommand({ ...envelope, payload: "not base64" }, options()),
    "bad_envelope",
  );
});

Deno.test("key windows apply to operator keys", async () => {
  const key = trustStore.keys[0]!;
  const text = await sign();
  refused(
    await checkCommand(
      text,
      options({
        trustStore: { keys: [{ ...key, notAfter: "2026-05-01T00:00:00Z" }] },
      }),
    ),
    "expired",
  );
  refused(
    await checkCommand(
      text,
      options({
        trustStore: { keys: [{ ...key, notBefore: "2026-07-01T00:00:00Z" }] },
      }),
    ),
    "not_yet_valid",
  );
});

Deno.test("expect: the command must be for this call", async () => {
  const run = await sign();
  ok(
    (await checkCommand(
      run,
      options({
        expect: { command: "run", programId: "pick-mug", version: 3 },
      }),
    )).ok,
  );
  refused(
    await checkCommand(run, options({ expect: { command: "resume" } })),
    "wrong_command",
  );
  refused(
    await checkCommand(
      run,
      options({ expect: { command: "run", programId: "other" } }),
    ),
    "wrong_command",
  );
  refused(
    await checkCommand(
      run,
      options({
        expect: { command: "run", programId: "pick-mug", version: 2 },
      }),
    ),
    "wrong_command",
  );
  const newest = await sign({ version: undefined });
  ok(
    (await checkCommand(
      newest,
      options({
        expect: { command: "run", programId: "pick-mug", version: 7 },
      }),
    )).ok,
  );
  const resume = await sign({
    command: "resume",
    programId: undefined,
    version: undefined,
  });
  ok(
    (await checkCommand(resume, options({ expect: { command: "resume" } }))).ok,
  );
  refused(
    await checkCommand(
      resume,
      options({ expect: { command: "run", programId: "pick-mug" } }),
    ),
    "wrong_command",
  );
});

Deno.test("clock skew forgives an issuer ahead, never an expired command", async () => {
  const ahead = await sign({ issuedAt: "2026-06-01T01:00:30Z" });
  ok((await checkCommand(ahead, options())).ok);
  refused(
    await checkCommand(ahead, options({ clockSkewMs: 0 })),
    "not_yet_valid",
  );
  const justExpired = await sign({
    issuedAt: "2026-06-01T00:55:00Z",
    expiresAt: "2026-06-01T01:00:00Z",
  });
  refused(
    await checkCommand(justExpired, options({ clockSkewMs: 3_600_000 })),
    "expired",
  );
});

Deno.test("bad options throw TypeError", async () => {
  await rejects(
    checkCommand("{}", { ...options(), robotId: 1 as unknown as string }),
    TypeError,
  );
  await rejects(
    checkCommand("{}", {
      ...options(),
      seenNonce: undefined as unknown as () => boolean,
    }),
    TypeError,
  );
  await rejects(checkCommand("{}", options({ now: new Date(NaN) })), TypeError);
});
