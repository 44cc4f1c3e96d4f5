import { equal, ok, rejects } from "node:assert/strict";
import { decodeBase64 } from "./dsse.ts";
import { COMMAND_PAYLOAD_TYPE } from "./operator_command.ts";
import { generateSigningKey } from "./signing_key.ts";
import { signCommand } from "./sign_command.ts";

const { privateJwk } = await generateSigningKey("op-1", {
  roles: ["operator"],
});
const NOW = new Date("2026-06-01T01:00:00Z");

Deno.test("signCommand fills the window and a fresh nonce", async () => {
  const a = await signCommand(
    { command: "resume", robot: "arm-01" },
    privateJwk,
    { now: NOW },
  );
  const b = await signCommand(
    { command: "resume", robot: "arm-01" },
    privateJwk,
    { now: NOW },
  );
  equal(a.payloadType, COMMAND_PAYLOAD_TYPE);
  equal(a.signatures[0]?.keyid, "op-1");
  const body = JSON.parse(new TextDecoder().decode(decodeBase64(a.payload)!));
  equal(body.issuedAt, "2026-06-01T01:00:00.000Z");
  equal(body.expiresAt, "2026-06-01T01:05:00.000Z");
  ok(/^[A-Za-z0-9_-]{22}$/.test(body.nonce), body.nonce);
  const other = JSON.parse(new TextDecoder().decode(decodeBase64(b.payload)!));
  ok(body.nonce !== other.nonce, "each command gets its own nonce");
});

Deno.test("signCommand refuses what the robot would refuse", async () => {
  await rejects(
    signCommand({ command: "run", robot: "arm-01" }, privateJwk),
    /programId/,
  );
  await rejects(
    signCommand({ command: "resume", robot: "arm-01" }, privateJwk, {
      ttlMs: 11 * 60_000,
    }),
    /ttlMs/,
  );
  await rejects(
    signCommand({
      command: "resume",
      robot: "arm-01",
      issuedAt: "2026-06-01T00:00:00Z",
      expiresAt: "2026-06-01T01:00:00Z",
    }, privateJwk),
    /window/,
  );
  await rejects(
    signCommand({ command: "resume", robot: "arm 01" }, privateJwk),
    /robot/,
  );
  const { publicJwk } = await generateSigningKey("op-2");
  await rejects(
    signCommand({ command: "resume", robot: "arm-01" }, publicJwk),
    TypeError,
  );
});
