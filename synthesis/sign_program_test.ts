import {
  deepStrictEqual as assertEquals,
  match as assertMatch,
  ok as assert,
} from "node:assert/strict";
import { checkEnvelope, generateSigningKey } from "../verifier/mod.ts";
import { DEFAULT_CAPS } from "../runtime/executor/mod.ts";
import { signProgram } from "./sign_program.ts";
import type { SynthesisResult } from "./synthesize.ts";

const result: SynthesisResult = {
  ok: true,
  instruction: "Put the red block in the blue bowl!",
  source: 'pick("red_block");\nplace("blue_bowl");',
  attempts: [
    {
      attempt: 1,
      promptSha256: "a".repeat(64),
      answer: "…",
      source: "x",
      helpers: [],
      verifier: { ok: false, issues: [] },
      dryRun: null,
    },
    {
      attempt: 2,
      promptSha256: "b".repeat(64),
      answer: "…",
      source: 'pick("red_block");\nplace("blue_bowl");',
      helpers: [{
        name: "grab",
        depth: 1,
        promptSha256: "c".repeat(64),
        source: "function grab() {}",
      }],
      verifier: { ok: true, issues: [] },
      dryRun: null,
    },
  ],
  model: "gpt-test",
  promptSha256: "b".repeat(64),
  checks: ['detect("red block")[0].on === "blue_bowl"'],
  apiVersion: "tabletop/1",
};

Deno.test("signProgram() signs a manifest with provenance that the robot's envelope check accepts", async () => {
  const { privateJwk, trustStore } = await generateSigningKey("cloud-1");
  const now = new Date("2026-03-01T12:00:00Z");
  const envelope = await signProgram(result, privateJwk, {
    now,
    robots: ["arm-01"],
  });
  const check = await checkEnvelope(envelope, {
    trustStore,
    robotId: "arm-01",
    now,
    apiVersion: "tabletop/1",
  });
  assert(check.ok, JSON.stringify(check));
  const m = check.manifest;
  assertEquals(m.programId, "put-the-red-block-in-the-blue-bowl");
  assertEquals(m.version, Math.floor(now.getTime() / 1000));
  assertEquals(m.source, result.source);
  assertEquals(m.instruction, result.instruction);
  assertEquals(m.checks, result.checks);
  assertEquals(m.robots, ["arm-01"]);
  assertEquals(m.budgets, { ...DEFAULT_CAPS });
  assertEquals(m.expiresAt, "2026-03-08T12:00:00.000Z");
  assertEquals(m.provenance.model, "gpt-test");
  assertEquals(m.provenance.attempts, 2);
  assertEquals(m.provenance["promptSha256"], "b".repeat(64));
  assertEquals(m.provenance["helpers"], ["grab"]);
  assertEquals(check.keyId, "cloud-1");
});

Deno.test("signProgram() refuses a failed synthesis", async () => {
  const { privateJwk } = await generateSigningKey("cloud-1");
  const error = await signProgram(
    { ...result, ok: false, error: "Cannot synthesize: nope" },
    privateJwk,
  ).then(() => undefined, (e: unknown) => e);
  assert(error instanceof TypeError);
  assertMatch(
    error.message,
    /^Cannot sign the program for "Put the red block in the blue bowl!": synthesis did not succeed \(Cannot synthesize: nope\)$/,
  );
});
