/**
 * gRPC over TLS and mutual TLS, with certificates made by `openssl` at test
 * time: who can talk to the robot, and who cannot.
 * @module
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "./_assert.ts";
import {
  EdgeCallError,
  EdgeClient,
  type EdgeClientTls,
} from "../runtime/grpc/mod.ts";
import {
  clientFor,
  makeKey,
  operatorKeyFile,
  signed,
  startNode,
  type TestKey,
} from "./_edge_fixture.ts";
import { makeTestPki, type TestCert, type TestPki } from "./_test_pki.ts";
import { runCap, showRun } from "./_run_cli.ts";

async function clientTls(
  ca: string,
  pair?: TestCert,
): Promise<EdgeClientTls> {
  return {
    ca: await Deno.readTextFile(ca),
    ...(pair
      ? {
        cert: await Deno.readTextFile(pair.cert),
        key: await Deno.readTextFile(pair.key),
      }
      : {}),
  };
}

function serverTls(pki: TestPki, mutual: boolean) {
  return {
    cert: pki.server.cert,
    key: pki.server.key,
    ...(mutual ? { clientCa: pki.ca } : {}),
  };
}

/** A client whose failed calls fail within seconds, not the default 30 s. */
function client(
  port: number,
  tls?: EdgeClientTls,
  host = "127.0.0.1",
  operator?: TestKey,
) {
  const options = { timeoutMs: 5000, ...(tls ? { tls } : {}) };
  return operator
    ? clientFor(`${host}:${port}`, operator, "arm-01", options)
    : new EdgeClient(`${host}:${port}`, options);
}

Deno.test("TLS: a client that trusts the CA is served; a plaintext client is not", async () => {
  await using pki = await makeTestPki();
  const key = await makeKey();
  try {
    await using node = await startNode(key, {
      config: {
        grpc: { listen: "127.0.0.1:0", tls: serverTls(pki, false) },
      },
    });
    const port = node.grpc.port;
    // By IP (SAN IP:127.0.0.1) and by name (SAN DNS:localhost).
    for (const host of ["127.0.0.1", "localhost"]) {
      using secure = client(port, await clientTls(pki.ca), host);
      assertEquals(await secure.health(), "SERVING", host);
    }
    using secure = client(port, await clientTls(pki.ca), "127.0.0.1", key);
    const { receipt, evidence } = await secure.deliver(
      await signed(key, { source: 'say("over TLS");' }),
      { run: true },
    );
    assertEquals(receipt.accepted, true, receipt.message);
    assertEquals(evidence?.outcome, "succeeded", evidence?.failure?.message);

    using plain = client(port);
    const refused = await assertRejects(() => plain.health(), EdgeCallError);
    assertEquals(refused.code, "UNAVAILABLE", refused.message);
    // A client that trusts another CA does not accept the robot's certificate.
    using misled = client(port, await clientTls(pki.otherCa));
    await assertRejects(() => misled.list(), EdgeCallError);
    // The certificate must name the address or the expected server name.
    for (const serverName of ["127.0.0.2", "robot.example"]) {
      using wrongName = client(port, {
        ...await clientTls(pki.ca),
        serverName,
      });
      await assertRejects(() => wrongName.list(), EdgeCallError);
    }
    using named = client(port, {
      ...await clientTls(pki.ca),
      serverName: "localhost",
    });
    assertEquals(await named.health(), "SERVING");
    assertEquals((await secure.list()).length, 1);
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});

Deno.test("mutual TLS: only a client certificate from the configured CA gets in", async () => {
  await using pki = await makeTestPki();
  const key = await makeKey();
  try {
    await using node = await startNode(key, {
      config: {
        grpc: { listen: "127.0.0.1:0", tls: serverTls(pki, true) },
      },
    });
    const port = node.grpc.port;
    using operator = client(
      port,
      await clientTls(pki.ca, pki.client),
      "127.0.0.1",
      key,
    );
    assertEquals(await operator.health(), "SERVING");

    const attempts: [string, EdgeClient][] = [
      ["no client certificate", client(port, await clientTls(pki.ca))],
      [
        "a client certificate from another CA",
        client(port, await clientTls(pki.ca, pki.strangerClient)),
      ],
      ["plaintext", client(port)],
    ];
    const envelope = await signed(key, { programId: "intruder" });
    for (const [name, intruder] of attempts) {
      using _ = intruder;
      const error = await assertRejects(
        () => intruder.deliver(envelope),
        EdgeCallError,
      );
      assert(
        ["UNAVAILABLE", "INTERNAL", "UNKNOWN"].includes(error.code),
        `${name}: ${error.message}`,
      );
    }
    // Nothing the intruders sent reached the cache.
    assertEquals(await operator.list(), []);

    const { receipt } = await operator.deliver(
      await signed(key, { programId: "pick-red" }),
    );
    assertEquals(receipt.accepted, true, receipt.message);
    const evidence = await operator.run("pick-red");
    assertEquals(evidence.outcome, "succeeded", evidence.failure?.message);
    assertEquals(evidence.program.keyId, "k1");
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});

Deno.test("cap send --ca --cert --key delivers and runs over mutual TLS", async () => {
  await using pki = await makeTestPki();
  const key = await makeKey();
  try {
    await using node = await startNode(key, {
      config: {
        grpc: { listen: "127.0.0.1:0", tls: serverTls(pki, true) },
      },
    });
    const envelopePath = `${key.dir}/envelope.json`;
    await Deno.writeTextFile(
      envelopePath,
      await signed(key, { programId: "cli-tls", source: 'say("hello");' }),
    );
    const result = await runCap([
      "send",
      envelopePath,
      "--to",
      `127.0.0.1:${node.grpc.port}`,
      "--ca",
      pki.ca,
      "--cert",
      pki.client.cert,
      "--key",
      pki.client.key,
      "--run",
      "--operator-key",
      await operatorKeyFile(key),
      "--json",
    ]);
    assertEquals(result.code, 0, showRun(result));
    const evidence = JSON.parse(result.stdout);
    assertEquals(evidence.outcome, "succeeded");
    assertEquals(evidence.program.programId, "cli-tls");
    assertStringIncludes(JSON.stringify(evidence.calls), "hello");
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});
