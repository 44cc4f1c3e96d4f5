import { assert, assertEquals } from "../test/_assert.ts";
import { checkEnvelope, parseTrustStore } from "../verifier/mod.ts";
import { makeKey, startNode } from "../test/_edge_fixture.ts";
import { freePort } from "../test/_mosquitto.ts";
import { makeTestPki } from "../test/_test_pki.ts";
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

Deno.test("cap synth signs, writes and delivers an envelope over gRPC to a robot that runs it", async () => {
  const key = await makeKey("cloud-ci");
  const dir = key.dir;
  try {
    await using node = await startNode(key, { config: { caps: {} } }); // the default caps: signProgram's default budgets
    const target = `127.0.0.1:${node.grpc.port}`;
    await Deno.writeTextFile(`${dir}/scene.json`, JSON.stringify(SCENE));
    await Deno.writeTextFile(`${dir}/key.json`, JSON.stringify(key.privateJwk));
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
        target,
        "--run",
        "--operator-key",
        `${dir}/key.json`,
        "--replay",
        "--json",
      ])
    );
    assertEquals(code, 0, stderr);
    const out = JSON.parse(stdout);
    assertEquals(out.ok, true);
    assertEquals(out.replay, true);
    assertEquals(out.model, "replay");
    assertEquals(out.attempts.length, 2); // the recording starts with a refused program
    assertEquals(out.deliveries.length, 1);
    const delivery = out.deliveries[0];
    assertEquals(delivery.target, target);
    assertEquals(delivery.ok, true, delivery.message);
    assertEquals(delivery.receipt.accepted, true);
    assertEquals(delivery.receipt.keyId, "cloud-ci");
    assertEquals(
      delivery.receipt.version,
      delivery.evidence.program.version,
    );
    assertEquals(delivery.evidence.outcome, "succeeded");
    assertEquals(delivery.evidence.robotId, "arm-01");
    assertEquals(delivery.evidence.checks, [{ expr: CHECK, ok: true }]);
    const envelope = JSON.parse(
      await Deno.readTextFile(`${dir}/envelope.json`),
    );
    assertEquals(envelope, out.envelope);
    assertEquals(
      node.service.list()[0]?.programId,
      envelope && "put-the-red-block-in-the-blue-bowl",
    );
    const trustStore = parseTrustStore(
      JSON.parse(await Deno.readTextFile(key.trustPath)),
    );
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

Deno.test("cap synth without --json prints the program, and each robot's outcome or why it was not delivered", async () => {
  const key = await makeKey();
  const dir = key.dir;
  try {
    await using node = await startNode(key, { config: { caps: {} } }); // the default caps: signProgram's default budgets
    const target = `127.0.0.1:${node.grpc.port}`;
    const nobody = `127.0.0.1:${freePort()}`;
    await Deno.writeTextFile(`${dir}/scene.json`, JSON.stringify(SCENE));
    await Deno.writeTextFile(`${dir}/key.json`, JSON.stringify(key.privateJwk));
    const { value: code, stdout, stderr } = await captured(() =>
      synthCommand([
        "put the red block in the blue bowl",
        "--world",
        `${dir}/scene.json`,
        "--check",
        CHECK,
        "--key",
        `${dir}/key.json`,
        "--to",
        target,
        "--to",
        nobody,
        "--run",
        "--operator-key",
        `${dir}/key.json`,
        "--replay",
      ])
    );
    assertEquals(code, 1, stderr); // one robot could not be reached
    assert(stdout.includes("place(bowl.id);"), stdout);
    assert(stderr.includes(`${target}: accepted`), stderr);
    assert(stderr.includes(`check ✓ ${CHECK}`), stderr);
    assert(stderr.includes("succeeded: 4 skill call(s)"), stderr);
    assert(stderr.includes(`${nobody}: Cannot deliver to ${nobody}`), stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cap synth delivers over mutual TLS with --ca, --cert and --client-key", async () => {
  await using pki = await makeTestPki();
  const key = await makeKey();
  const dir = key.dir;
  try {
    await using node = await startNode(key, {
      config: {
        caps: {},
        grpc: {
          listen: "127.0.0.1:0",
          tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca },
        },
      },
    });
    await Deno.writeTextFile(`${dir}/scene.json`, JSON.stringify(SCENE));
    await Deno.writeTextFile(`${dir}/key.json`, JSON.stringify(key.privateJwk));
    const args = [
      "put the red block in the blue bowl",
      "--world",
      `${dir}/scene.json`,
      "--key",
      `${dir}/key.json`,
      "--to",
      `127.0.0.1:${node.grpc.port}`,
      "--replay",
      "--json",
    ];
    const secure = await captured(() =>
      synthCommand([
        ...args,
        "--ca",
        pki.ca,
        "--cert",
        pki.client.cert,
        "--client-key",
        pki.client.key,
      ])
    );
    assertEquals(secure.value, 0, secure.stderr);
    const delivery = JSON.parse(secure.stdout).deliveries[0];
    assertEquals(delivery.ok, true, delivery.message);
    assertEquals(delivery.evidence, null); // delivered, not run

    // Without a client certificate the robot does not let the program in.
    const refused = await captured(() =>
      synthCommand([...args, "--ca", pki.ca, "--program-id", "intruder"])
    );
    assertEquals(refused.value, 1, refused.stderr);
    assertEquals(JSON.parse(refused.stdout).deliveries[0].ok, false);
    assertEquals(
      node.service.list().map((p) => p.programId),
      ["put-the-red-block-in-the-blue-bowl"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cap synth refuses bad usage with exit code 2", async () => {
  const cases = [
    [],
    ["put it there"],
    ["put it there", "--world", "x.json", "--out", "e.json"],
    ["put it there", "--world", "x.json", "--to", "127.0.0.1:1"],
    ["put it there", "--world", "x.json", "--key", "k.json", "--to", "nope"],
    ["put it there", "--world", "x.json", "--key", "k.json", "--run"],
    ["put it there", "--world", "x.json", "--cert", "c.pem"],
    ["put it there", "--world", "x.json", "--ca", "a.pem", "--cert", "c.pem"],
    ["put it there", "--world", "x.json", "--max-attempts", "0"],
    ["put it there", "--world", "x.json", "--bogus"],
    [
      "put it there",
      "--world",
      "x.json",
      "--key",
      "k.json",
      "--to",
      "127.0.0.1:1",
      "--run",
      "--operator-key",
      "/nonexistent/operator.jwk.json",
    ],
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
