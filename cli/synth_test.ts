import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import {
  checkEnvelope,
  type Envelope,
  generateSigningKey,
} from "../verifier/mod.ts";
import { synthCommand } from "./synth.ts";

const SCENE = {
  seed: 7,
  objects: [
    { id: "red_block", kind: "block", color: "red", x: 0.1, y: -0.5 },
    { id: "blue_bowl", kind: "bowl", color: "blue", x: -0.1, y: -0.4 },
  ],
};
const CHECK = 'detect("red block")[0].on === "blue_bowl"';

/** Runs `fn` with console output captured; returns what went to stdout. */
async function captured<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; stdout: string; stderr: string }> {
  const log = console.log;
  const error = console.error;
  let stdout = "";
  let stderr = "";
  console.log = (...args: unknown[]) => {
    stdout += args.join(" ") + "\n";
  };
  console.error = (...args: unknown[]) => {
    stderr += args.join(" ") + "\n";
  };
  try {
    return { value: await fn(), stdout, stderr };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("cap synth signs and writes an envelope from the replay, and delivers through the injected client", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { privateJwk, trustStore } = await generateSigningKey("cloud-ci");
    await Deno.writeTextFile(`${dir}/scene.json`, JSON.stringify(SCENE));
    await Deno.writeTextFile(`${dir}/key.json`, JSON.stringify(privateJwk));
    const delivered: { target: string; envelope: Envelope }[] = [];
    const { value: code, stdout, stderr } = await captured(() =>
      synthCommand([
        "put the red block in the blue bowl",
        "--world",
        `${dir}/scene.json`,
        "--check",
        CHECK,
        "--key",
        `${dir}/key.json`,
        "--out",
        `${dir}/envelope.json`,
        "--to",
        "127.0.0.1:50051",
        "--replay",
        "--json",
      ], {
        deliver: (target, envelope) => {
          delivered.push({ target, envelope });
          return Promise.resolve({ ok: true, message: "accepted" });
        },
      })
    );
    assertEquals(code, 0, stderr);
    const out = JSON.parse(stdout);
    assertEquals(out.ok, true);
    assertEquals(out.replay, true);
    assertEquals(out.model, "replay");
    assertEquals(out.attempts.length, 2); // the recording starts with a refused program
    assertEquals(out.deliveries, [{
      target: "127.0.0.1:50051",
      ok: true,
      message: "accepted",
    }]);
    const envelope = JSON.parse(
      await Deno.readTextFile(`${dir}/envelope.json`),
    );
    assertEquals(envelope, delivered[0]?.envelope);
    const check = await checkEnvelope(envelope, {
      trustStore,
      robotId: "arm-01",
    });
    assert(check.ok, JSON.stringify(check));
    assertEquals(check.manifest.provenance.model, "replay");
    assertEquals(check.manifest.provenance.attempts, 2);
    assertEquals(check.manifest.provenance["promptSha256"], out.promptSha256);
    assertEquals(check.manifest.checks, [CHECK]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cap synth refuses bad usage with exit code 2", async () => {
  const cases = [
    [],
    ["put it there"],
    ["put it there", "--world", "x.json", "--out", "e.json"],
    [
      "put it there",
      "--world",
      "x.json",
      "--key",
      "k.json",
      "--to",
      "127.0.0.1:1",
    ],
    ["put it there", "--world", "x.json", "--max-attempts", "0"],
    ["put it there", "--world", "x.json", "--bogus"],
  ];
  for (const args of cases) {
    const { value } = await captured(() => synthCommand(args));
    assertEquals(value, 2, args.join(" "));
  }
});

Deno.test("cap synth exits 1 with a clear message for a missing scene or an unrecorded instruction", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = await captured(() =>
      synthCommand(["put it there", "--world", `${dir}/nope.json`, "--replay"])
    );
    assertEquals(missing.value, 1);
    assert(missing.stderr.includes("does not exist"), missing.stderr);
    await Deno.writeTextFile(`${dir}/scene.json`, JSON.stringify(SCENE));
    const unknown = await captured(() =>
      synthCommand([
        "juggle the bowls",
        "--world",
        `${dir}/scene.json`,
        "--replay",
      ])
    );
    assertEquals(unknown.value, 1);
    assert(unknown.stderr.includes("REPLAY"), unknown.stderr);
    assert(
      unknown.stderr.includes('No recorded answer for "juggle the bowls"'),
      unknown.stderr,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
