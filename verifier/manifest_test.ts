import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { _ManifestSchema, Manifest } from "./manifest.ts";
import { _describeZodError } from "./_zod_issue.ts";

const good = {
  programId: "pick-mug",
  version: 3,
  source: 'pick("red_block");',
  instruction: "pick the red block",
  apiVersion: "tabletop/1",
  robots: ["*"],
  issuedAt: "2026-11-25T08:00:00Z",
  expiresAt: "2026-11-26T08:00:00.000+01:00",
  budgets: { timeoutMs: 30_000, memoryBytes: 16_777_216, maxSkillCalls: 50 },
  checks: ['holding() === "red_block"'],
  provenance: { model: "gpt-x", attempts: 2, promptSha256: "ab12" },
};

function refusal(value: unknown): string {
  const result = _ManifestSchema.safeParse(value, { reportInput: true });
  ok(!result.success, "expected the manifest to be refused");
  return _describeZodError(result.error, "manifest").message;
}

Deno.test("a complete manifest parses and keeps extra provenance", () => {
  const parsed = Manifest.parse(good);
  deepStrictEqual(parsed, good);
  equal(parsed.provenance["promptSha256"], "ab12");
  ok(Manifest.safeParse({ ...good, instruction: null }).success);
  ok(Manifest.safeParse({ ...good, robots: ["arm-01", "arm-02"] }).success);
});

Deno.test("each broken field is named in the refusal", () => {
  const cases: [unknown, string][] = [
    [{ ...good, version: 0 }, "version"],
    [{ ...good, version: 1.5 }, "version must be an integer, got 1.5"],
    [{ ...good, version: "2" }, 'version must be a number, got "2"'],
    [{ ...good, programId: "a b" }, "programId"],
    [{ ...good, programId: "../x" }, "programId"],
    [{ ...good, source: undefined }, "source is missing"],
    [{ ...good, instruction: undefined }, "instruction is missing"],
    [{ ...good, robots: [] }, "robots"],
    [{ ...good, robots: ["*", "arm-01"] }, "robots"],
    [{ ...good, robots: ["arm 01"] }, "robots[0]"],
    [{ ...good, issuedAt: "yesterday" }, "issuedAt"],
    [{ ...good, expiresAt: "2026-11-25T07:00:00Z" }, "expiresAt"],
    [
      { ...good, budgets: { ...good.budgets, timeoutMs: -1 } },
      "budgets.timeoutMs",
    ],
    [
      { ...good, budgets: { ...good.budgets, extra: 1 } },
      'budgets has unknown field(s) "extra"',
    ],
    [{ ...good, checks: [1] }, "checks[0] must be a string, got 1"],
    [{ ...good, provenance: { model: "m" } }, "provenance.attempts is missing"],
    [{ ...good, surprise: true }, 'manifest has unknown field(s) "surprise"'],
    [[], "manifest must be an object, got an array"],
    [null, "manifest must be an object, got null"],
  ];
  for (const [value, expected] of cases) {
    const message = refusal(value);
    ok(
      message.includes(expected),
      `${JSON.stringify(message)} lacks ${expected}`,
    );
  }
});
