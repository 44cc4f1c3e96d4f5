import { assert, assertEquals, assertRejects } from "./_assert.ts";
import {
  EdgeCallError,
  EdgeClient,
  type WireRunEvent,
} from "../runtime/grpc/mod.ts";
import { generateSigningKey } from "../verifier/mod.ts";
import {
  addKey,
  clientFor,
  makeKey,
  signed,
  startNode,
  type TestKey,
  withNode,
} from "./_edge_fixture.ts";

Deno.test("deliver → run → events → evidence over gRPC, and the cache survives a restart", async () => {
  const key = await makeKey();
  try {
    {
      await using node = await startNode(key);
      using client = clientFor(`127.0.0.1:${node.grpc.port}`, key, "arm-01");
      assertEquals(await client.health(), "SERVING");
      const envelope = await signed(key, {
        checks: ['detect("red block")[0].on === "blue_bowl"'],
      });
      const { receipt, evidence } = await client.deliver(envelope, {
        run: true,
      });
      assertEquals(receipt.accepted, true, receipt.message);
      assertEquals(receipt.programId, "pick-red");
      assertEquals(receipt.keyId, "k1");
      assertEquals(evidence?.outcome, "succeeded", evidence?.failure?.message);
      assertEquals(evidence?.robotId, "arm-01");
      assertEquals(evidence?.program.keyId, "k1");
      assertEquals(evidence?.program.version, 1);
      assertEquals(evidence?.checks[0]?.ok, true);
      // A byte-identical re-delivery is idempotent.
      const again = await client.deliver(envelope);
      assertEquals(again.receipt.accepted, true);
      assertEquals(again.receipt.idempotent, true);
      const programs = await client.list();
      assertEquals(programs.map((p) => [p.programId, p.version]), [[
        "pick-red",
        1,
      ]]);
    }
    // Restart: the cached program runs with no re-delivery, streaming its events.
    await using node = await startNode(key);
    using client = clientFor(`127.0.0.1:${node.grpc.port}`, key, "arm-01");
    const events: WireRunEvent[] = [];
    const evidence = await client.run("pick-red", {
      onEvent: (e) => events.push(e),
    });
    // The world of the new process is fresh: the red block is on the table again.
    assertEquals(evidence.outcome, "succeeded", evidence.failure?.message);
    assertEquals(events[0]?.type, "run_started");
    assertEquals(events.at(-1)?.type, "run_ended");
    assert(events.some((e) => e.type === "skill_started"));
    const unknown = await assertRejects(
      () => client.run("nope"),
      EdgeCallError,
    );
    assertEquals(unknown.code, "NOT_FOUND");
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});

Deno.test("the robot's own verifier refuses a validly signed hostile program", async () => {
  const key = await makeKey();
  try {
    await using node = await startNode(key);
    using client = clientFor(`127.0.0.1:${node.grpc.port}`, key, "arm-01");
    const { receipt, evidence } = await client.deliver(
      await signed(key, {
        programId: "escape",
        source: "globalThis.Deno.exit(1)",
      }),
      { run: true },
    );
    assertEquals(receipt.accepted, false);
    assertEquals(receipt.reason, "verification_rejected");
    assert(
      receipt.verifier.issues.some((i) => i.code === "forbidden_identifier"),
    );
    assertEquals(evidence?.outcome, "rejected");
    assertEquals(evidence?.failure?.label, "verification_rejected");
    assertEquals((await client.list()).length, 0);
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});

Deno.test("bad envelopes are refused with their reason and the service keeps serving", async () => {
  const key = await makeKey();
  const stranger = await generateSigningKey("k1");
  const revokedKey = await generateSigningKey("old");
  try {
    const trust = JSON.parse(await Deno.readTextFile(key.trustPath));
    trust.keys.push({ ...revokedKey.trustStore.keys[0], revoked: true });
    await Deno.writeTextFile(key.trustPath, JSON.stringify(trust));
    await using node = await startNode(key);
    using client = clientFor(`127.0.0.1:${node.grpc.port}`, key, "arm-01");
    const good = await signed(key, { programId: "p", version: 5 });
    assertEquals((await client.deliver(good)).receipt.accepted, true);
    const goodParsed = JSON.parse(good);
    const other = JSON.parse(
      await signed(key, { programId: "q", source: 'say("other")' }),
    );
    const hour = 3600_000;
    const cases: [string, () => Promise<string> | string, string][] = [
      [
        "truncated JSON",
        () => good.slice(0, good.length / 2),
        "malformed_envelope",
      ],
      [
        "wrong payload type",
        () => JSON.stringify({ ...goodParsed, payloadType: "text/plain" }),
        "bad_payload_type",
      ],
      [
        "bad base64",
        () => JSON.stringify({ ...goodParsed, payload: "%%%not base64%%%" }),
        "bad_encoding",
      ],
      [
        "unknown key",
        () => signed({ ...key, keyId: "k9" }, { programId: "p", version: 6 }),
        "unknown_key",
      ],
      [
        "revoked key",
        async () =>
          JSON.stringify(
            await (await import("../verifier/mod.ts")).signManifest(
              (await import("./_edge_fixture.ts")).manifest({
                programId: "p",
                version: 7,
              }),
              revokedKey.privateJwk,
              { keyId: "old" },
            ),
          ),
        "revoked_key",
      ],
      [
        "signed by a stranger under a trusted key id",
        () =>
          signed({ ...key, privateJwk: stranger.privateJwk }, { version: 8 }),
        "bad_signature",
      ],
      ["tampered payload", () => {
        const manifest = JSON.parse(atob(goodParsed.payload));
        manifest.source = "while (true) {}";
        return JSON.stringify({
          ...goodParsed,
          payload: btoa(JSON.stringify(manifest)),
        });
      }, "bad_signature"],
      [
        "another program's signed payload",
        () => JSON.stringify({ ...goodParsed, payload: other.payload }),
        "bad_signature",
      ],
      [
        "expired",
        () =>
          signed(key, {
            version: 9,
            issuedAt: new Date(Date.now() - 3 * hour).toISOString(),
            expiresAt: new Date(Date.now() - 2 * hour).toISOString(),
          }),
        "expired",
      ],
      [
        "not yet valid",
        () =>
          signed(key, {
            version: 10,
            issuedAt: new Date(Date.now() + 2 * hour).toISOString(),
            expiresAt: new Date(Date.now() + 3 * hour).toISOString(),
          }),
        "not_yet_valid",
      ],
      [
        "replayed older version",
        () => signed(key, { programId: "p", version: 4 }),
        "replayed_version",
      ],
      [
        "wrong robot",
        () => signed(key, { version: 11, robots: ["arm-02"] }),
        "wrong_robot",
      ],
      [
        "budgets above caps",
        () =>
          signed(key, {
            version: 12,
            budgets: {
              timeoutMs: 10 * hour,
              memoryBytes: 1024 * 1024 * 1024,
              maxSkillCalls: 10,
            },
          }),
        "budget_above_caps",
      ],
    ];
    for (const [name, make, reason] of cases) {
      const { receipt } = await client.deliver(await make());
      assertEquals(receipt.accepted, false, name);
      assertEquals(receipt.reason, reason, `${name}: ${receipt.message}`);
      assert(receipt.message.length > 0, name);
    }
    // 10 MB: the transport refuses it before it is read.
    const huge = await assertRejects(
      () => client.deliver("x".repeat(10 * 1024 * 1024)),
      EdgeCallError,
    );
    assertEquals(huge.code, "RESOURCE_EXHAUSTED");
    // A flood of 1,000 bad deliveries, 50 at a time.
    for (let batch = 0; batch < 20; batch++) {
      const answers = await Promise.all(
        Array.from(
          { length: 50 },
          (_, i) => client.deliver(`{"payloadType": ${batch * 50 + i}`),
        ),
      );
      assert(
        answers.every((a) =>
          !a.receipt.accepted && a.receipt.reason === "malformed_envelope"
        ),
      );
    }
    // Still serving, and the stored program is intact.
    assertEquals(await client.health(), "SERVING");
    const evidence = await client.run("p");
    assertEquals(evidence.outcome, "succeeded", evidence.failure?.message);
    const next = await client.deliver(
      await signed(key, { programId: "p", version: 13 }),
      { run: true },
    );
    assertEquals(next.evidence?.outcome, "succeeded");
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});

Deno.test("Stop over gRPC ends a running program and refuses runs until Resume", async (t) => {
  const key = await makeKey();
  try {
    await using node = await startNode(key);
    using client = clientFor(`127.0.0.1:${node.grpc.port}`, key, "arm-01");
    const programs = [
      {
        name: "tight loop",
        programId: "spin",
        source: 'say("go");\nwhile (true) {}',
        inSkill: false,
      },
      {
        name: "in a skill",
        programId: "sleepy",
        source: 'say("go");\nwait(30);',
        inSkill: true,
      },
    ];
    assertEquals(
      (await client.deliver(await signed(key))).receipt.accepted,
      true,
    );
    for (const p of programs) {
      await t.step(p.name, async () => {
        assertEquals(
          (await client.deliver(
            await signed(key, { programId: p.programId, source: p.source }),
          )).receipt.accepted,
          true,
        );
        let started!: () => void;
        const running = new Promise<void>((resolve) => started = resolve);
        const run = client.run(p.programId, {
          onEvent: (e) => {
            const event = e.data as {
              skill?: string;
              call?: { skill: string };
            };
            if (
              p.inSkill
                ? e.type === "skill_started" && event.skill === "wait"
                : e.type === "skill_ended"
            ) started();
          },
        });
        await running;
        // A second run while one is running: a clear FAILED_PRECONDITION.
        const busy = await assertRejects(
          () => client.run("pick-red"),
          EdgeCallError,
        );
        assertEquals(busy.code, "FAILED_PRECONDITION");
        const { runId } = await client.stop("operator pressed stop");
        assert(runId.length > 0);
        const evidence = await run;
        assertEquals(evidence.outcome, "stopped");
        assertEquals(evidence.failure?.label, "estop");
        const refused = await assertRejects(
          () => client.run(p.programId),
          EdgeCallError,
        );
        assertEquals(refused.code, "FAILED_PRECONDITION");
        assertEquals((await client.resume()).wasStopped, true);
      });
    }
    assertEquals(
      (await client.deliver(await signed(key, { version: 2 }), { run: true }))
        .evidence?.outcome,
      "succeeded",
    );
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});

/** Delivers program "spin": it says "go", then loops until it is stopped. */
async function deliverSpinner(client: EdgeClient, key: TestKey): Promise<void> {
  const { receipt } = await client.deliver(
    await signed(key, {
      programId: "spin",
      source: 'say("go");\nwhile (true) {}',
    }),
  );
  assert(receipt.accepted, receipt.message);
}

Deno.test("two Runs sent at once: one runs, the other is refused busy, and the running one can still be interrupted", async () => {
  await withNode(async (node, client, key) => {
    await deliverSpinner(client, key);
    // Both pass the busy check before either starts (each awaits its checks).
    const outcomes = [client.run("spin"), client.run("spin")].map((run) =>
      run.then(
        (evidence) => ({ evidence }),
        (error: EdgeCallError) => ({ error }),
      )
    );
    const first = await Promise.race(outcomes);
    assert("error" in first, "a run ended first");
    assertEquals(first.error.code, "FAILED_PRECONDITION");
    assert(node.service.currentRunId !== null);
    // What the service does when the ROS 2 bridge dies.
    node.service.interrupt("the bridge is gone");
    const ran = (await Promise.all(outcomes)).find((o) => "evidence" in o);
    assert(ran !== undefined && "evidence" in ran);
    assertEquals(ran.evidence.outcome, "stopped");
    assertEquals(ran.evidence.failure?.label, "estop");
    assert(
      ran.evidence.failure?.message.includes("the bridge is gone"),
      ran.evidence.failure?.message,
    );
    // Interrupted, not latched: the next run may start.
    assertEquals(node.service.state, "online");
  });
});

Deno.test("a Stop with a huge reason stops the robot; what it and other calls answer stays short", async () => {
  await withNode(async (node, client, key) => {
    await deliverSpinner(client, key);
    const { promise: spinning, resolve } = Promise.withResolvers<void>();
    const run = client.run("spin", {
      onEvent: (event) => {
        if (event.type === "skill_ended") resolve();
      },
    });
    await spinning;
    const reason = `pressed ${"!".repeat(300_000)}`;
    await client.stop(reason);
    const evidence = await run;
    assertEquals(evidence.outcome, "stopped");
    const message = evidence.failure?.message ?? "";
    assert(message.includes("pressed !!!"), message.slice(0, 200));
    assert(message.length < 1000, `${message.length} characters`);
    // Refused while latched, with the reason: a clear answer, not a hang.
    const refused = await assertRejects(
      () => client.run("spin"),
      EdgeCallError,
    );
    assertEquals(refused.code, "FAILED_PRECONDITION");
    assert(refused.message.length < 3000, `${refused.message.length}`);
    // A message that echoes a long id a client sent is cut short too.
    using anyone = new EdgeClient(`127.0.0.1:${node.grpc.port}`);
    const missing = await assertRejects(
      () => anyone.run("p".repeat(20_000)),
      EdgeCallError,
    );
    assertEquals(missing.code, "NOT_FOUND");
    assert(missing.message.length < 3000, `${missing.message.length}`);
    // Longer text is not even forwarded to the core.
    const huge = await assertRejects(
      () => anyone.run("p".repeat(200_000)),
      EdgeCallError,
    );
    assertEquals(huge.code, "INVALID_ARGUMENT");
    assert(huge.message.length < 3000, `${huge.message.length}`);
    assertEquals((await client.resume()).wasStopped, true);

    // Cut where a character is two UTF-16 units: still answered at once.
    await client.stop(`x${"😀".repeat(1000)}`);
    const latched = await assertRejects(
      () => client.run("spin"),
      EdgeCallError,
    );
    assertEquals(latched.code, "FAILED_PRECONDITION");
    for (const pairs of [1100, 1101]) {
      const cut = await assertRejects(
        () => anyone.run(`x${"😀".repeat(pairs)}`),
        EdgeCallError,
      );
      assertEquals(cut.code, "NOT_FOUND");
    }
    assertEquals((await client.resume()).wasStopped, true);
  });
});

Deno.test("a key revoked in the trust store stops its cached programs after a reload", async () => {
  const key = await makeKey();
  try {
    // The operator's own key stays valid: only the program's signer is revoked.
    const operator = await addKey(key, "op");
    await using node = await startNode(key);
    using client = clientFor(`127.0.0.1:${node.grpc.port}`, operator, "arm-01");
    assertEquals(
      (await client.deliver(await signed(key))).receipt.accepted,
      true,
    );
    assertEquals((await client.run("pick-red")).outcome, "succeeded");
    const trust = JSON.parse(await Deno.readTextFile(key.trustPath));
    trust.keys[0].revoked = true;
    await Deno.writeTextFile(key.trustPath, JSON.stringify(trust));
    assertEquals(await node.reloadTrustStore(), true);
    const evidence = await client.run("pick-red");
    assertEquals(evidence.outcome, "rejected");
    assertEquals(evidence.failure?.label, "envelope_rejected");
    assert(
      evidence.failure?.message.includes("revoked"),
      evidence.failure?.message,
    );
    // A broken file keeps the current trust store.
    await Deno.writeTextFile(key.trustPath, "{ not json");
    assertEquals(await node.reloadTrustStore(), false);
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});
