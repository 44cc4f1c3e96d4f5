/**
 * `cap keygen --roles` and `cap sign` refusing what the robot's verifier
 * refuses, on the real command line.
 * @module
 */
import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import { checkEnvelope, parseTrustStore } from "../verifier/mod.ts";
import { runCap, showRun as show } from "../test/_run_cli.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test("cap keygen: roles default to program-signer and operator; --roles sets them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cap_sign_test_" });
  try {
    const bench = await runCap([
      "keygen",
      "--out",
      `${dir}/bench`,
      "--key-id",
      "bench",
    ]);
    assertEquals(bench.code, 0, show(bench));
    const benchStore = parseTrustStore(
      await Deno.readTextFile(`${dir}/bench/trust.json`),
    );
    assertEquals(benchStore.keys[0]?.roles, ["program-signer", "operator"]);

    const op = await runCap([
      "keygen",
      "--out",
      `${dir}/op`,
      "--key-id",
      "op",
      "--roles",
      "operator",
    ]);
    assertEquals(op.code, 0, show(op));
    const opStore = parseTrustStore(
      await Deno.readTextFile(`${dir}/op/trust.json`),
    );
    assertEquals(opStore.keys[0]?.roles, ["operator"]);

    const bad = await runCap([
      "keygen",
      "--out",
      `${dir}/bad`,
      "--roles",
      "operator,,x y",
    ]);
    assertEquals(bad.code, 2, show(bad));
    assert(bad.stderr.includes("--roles"), show(bad));
    assertEquals(await exists(`${dir}/bad/private.jwk.json`), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cap sign: refuses a program the verifier refuses, writes no envelope", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cap_sign_test_" });
  try {
    const keygen = await runCap(["keygen", "--out", dir, "--key-id", "k1"]);
    assertEquals(keygen.code, 0, show(keygen));
    await Deno.writeTextFile(
      `${dir}/bad.js`,
      'const k = "constructor";\npick[k];\n',
    );
    await Deno.writeTextFile(
      `${dir}/good.js`,
      'pick("red_block");\nplace("blue_bowl");\n',
    );

    const refused = await runCap([
      "sign",
      `${dir}/bad.js`,
      "--key",
      `${dir}/private.jwk.json`,
      "--out",
      `${dir}/bad.json`,
    ]);
    assertEquals(refused.code, 1, show(refused));
    assert(refused.stderr.includes("forbidden_property"), show(refused));
    assert(refused.stderr.includes("2:6"), show(refused));
    assertEquals(await exists(`${dir}/bad.json`), false);

    const badCheck = await runCap([
      "sign",
      `${dir}/good.js`,
      "--key",
      `${dir}/private.jwk.json`,
      "--out",
      `${dir}/check.json`,
      "--check",
      'pick("red_block")',
    ]);
    assertEquals(badCheck.code, 1, show(badCheck));
    assert(badCheck.stderr.includes("check 1"), show(badCheck));
    assertEquals(await exists(`${dir}/check.json`), false);

    const signed = await runCap([
      "sign",
      `${dir}/good.js`,
      "--key",
      `${dir}/private.jwk.json`,
      "--out",
      `${dir}/good.json`,
      "--check",
      "holding() === null",
    ]);
    assertEquals(signed.code, 0, show(signed));
    const trustStore = parseTrustStore(
      await Deno.readTextFile(`${dir}/trust.json`),
    );
    const check = await checkEnvelope(
      await Deno.readTextFile(`${dir}/good.json`),
      { trustStore, robotId: "arm-01" },
    );
    assert(check.ok, check.ok ? "" : check.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
