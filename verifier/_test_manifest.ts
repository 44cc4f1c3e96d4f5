import type { Manifest } from "./manifest.ts";

/** A valid manifest for tests, valid around 2026-06-01; override fields with `patch`. */
export function _testManifest(patch: Partial<Manifest> = {}): Manifest {
  return {
    programId: "pick-mug",
    version: 3,
    source: 'pick("red_block");\nplace("blue_bowl");',
    instruction: "put the red block in the blue bowl",
    apiVersion: "tabletop/1",
    robots: ["*"],
    issuedAt: "2026-06-01T00:00:00Z",
    expiresAt: "2026-06-02T00:00:00Z",
    budgets: { timeoutMs: 30_000, memoryBytes: 16_777_216, maxSkillCalls: 50 },
    checks: ['detect("red block")[0].on === "blue_bowl"'],
    provenance: { model: "test-model", attempts: 1 },
    ...patch,
  };
}

/** The test clock: one hour after the test manifest was issued. */
export const _TEST_NOW = new Date("2026-06-01T01:00:00Z");
