/**
 * Authority (DESIGN.md "Operator commands") against a real edge node, with
 * a plain @grpc/grpc-js client built from protos/cap/v1/edge.proto (not our
 * EdgeClient, so nothing of ours signs or shapes the requests): Run, Resume
 * and Deliver+run without a valid operator command fail PERMISSION_DENIED
 * and nothing runs; Stop never needs one; only the newest version runs; a
 * manifest valid for ten years is refused.
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { rawClient, type RawStub } from "./_raw_grpc_client.ts";
import {
  addKey,
  commandFor,
  makeKey,
  signed,
  startNode,
  type TestKey,
} from "./_edge_fixture.ts";
import type { EdgeNode } from "../runtime/mod.ts";
import { COMMAND_PAYLOAD_TYPE } from "../verifier/mod.ts";
import { _signDsse } from "../verifier/_sign_dsse.ts";

const ROBOT = "arm-01";

type Stub = RawStub;

interface Answer {
  /** The gRPC status code name, `OK` on success. */
  code: string;
  details: string;
  // deno-lint-ignore no-explicit-any
  response: any;
}

function codeName(error: grpc.ServiceError | null): string {
  return error === null ? "OK" : grpc.status[error.code] ?? String(error.code);
}

function unary(stub: Stub, method: string, request: object): Promise<Answer> {
  return new Promise((resolve) => {
    stub[method](
      request,
      { deadline: Date.now() + 30_000 },
      // deno-lint-ignore no-explicit-any
      (error: grpc.ServiceError | null, response: any) =>
        resolve({
          code: codeName(error),
          details: error?.details ?? "",
          response,
        }),
    );
  });
}

/** A Run stream to its end: the status and every event. */
function run(
  stub: Stub,
  request: { programId: string; version?: number; command?: Uint8Array },
  // deno-lint-ignore no-explicit-any
): Promise<{ code: string; details: string; events: any[] }> {
  return new Promise((resolve) => {
    // deno-lint-ignore no-explicit-any
    const events: any[] = [];
    const call = stub.Run(
      {
        programId: request.programId,
        version: request.version ?? 0,
        ...(request.command ? { command: Buffer.from(request.command) } : {}),
      },
      { deadline: Date.now() + 30_000 },
    );
    call.on("data", (event: unknown) => events.push(event));
    call.on(
      "error",
      (error: grpc.ServiceError) =>
        resolve({ code: codeName(error), details: error.details, events }),
    );
    call.on("end", () => resolve({ code: "OK", details: "", events }));
  });
}

/** The evidence record the last event of a run (`run_ended`) carries. */
// deno-lint-ignore no-explicit-any
function evidenceOf(events: any[]): any {
  assertEquals(events.at(-1)?.type, "run_ended", JSON.stringify(events));
  const json = events.at(-1)?.json;
  assert(typeof json === "string" && json !== "", JSON.stringify(events));
  return JSON.parse(json);
}

const bytes = (text: string) => new TextEncoder().encode(text);

/** A command envelope over exactly `payload` (any text), signed by `key`. */
async function rawCommand(key: TestKey, payload: string): Promise<string> {
  return JSON.stringify(
    await _signDsse(
      COMMAND_PAYLOAD_TYPE,
      bytes(payload),
      key.privateJwk,
      key.keyId,
      "a test command",
    ),
  );
}

/** A node with the test key (program-signer and operator) and a key that only signs programs. */
async function bench(): Promise<{
  key: TestKey;
  signer: TestKey;
  node: EdgeNode;
  stub: Stub;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const key = await makeKey("ops");
  const signer = await addKey(key, "signer-only", ["program-signer"]);
  const node = await startNode(key);
  const stub = rawClient(`127.0.0.1:${node.grpc.port}`);
  return {
    key,
    signer,
    node,
    stub,
    async [Symbol.asyncDispose]() {
      stub.close();
      await node.close();
      await Deno.remove(key.dir, { recursive: true });
    },
  };
}

async function runsOn(stub: Stub): Promise<string[]> {
  const answer = await unary(stub, "ListRuns", {});
  assertEquals(answer.code, "OK", answer.details);
  return answer.response.runs.map((r: { runId: string }) => r.runId);
}

Deno.test("Run without a valid operator command is PERMISSION_DENIED and nothing runs", async () => {
  await using b = await bench();
  const { key, signer, node, stub } = b;
  // Delivering (without run) needs no command.
  const delivered = await unary(stub, "Deliver", {
    envelope: Buffer.from(await signed(key, { programId: "pick-red" })),
  });
  assertEquals(delivered.code, "OK", delivered.details);
  assertEquals(delivered.response.receipt.accepted, true);

  const now = Date.now();
  const good = (init: Partial<Record<string, unknown>> = {}) =>
    rawCommand(
      key,
      JSON.stringify({
        command: "run",
        robot: ROBOT,
        programId: "pick-red",
        issuedAt: new Date(now - 1000).toISOString(),
        expiresAt: new Date(now + 120_000).toISOString(),
        nonce: crypto.randomUUID().replaceAll("-", ""),
        ...init,
      }),
    );
  const cases: [string, Uint8Array | undefined, RegExp][] = [
    ["no command", undefined, /operator command/],
    ["an empty command", new Uint8Array(), /operator command/],
    ["not an envelope", bytes("run pick-red, please"), /./],
    [
      "signed by a key without the operator role",
      bytes(
        await commandFor(signer, ROBOT, {
          command: "run",
          programId: "pick-red",
        }),
      ),
      /operator/,
    ],
    [
      "for another robot",
      bytes(
        await commandFor(key, "arm-02", {
          command: "run",
          programId: "pick-red",
        }),
      ),
      /arm-02/,
    ],
    [
      "expired",
      bytes(
        await commandFor(key, ROBOT, {
          command: "run",
          programId: "pick-red",
        }, {
          issuedAt: new Date(now - 20 * 60_000).toISOString(),
          expiresAt: new Date(now - 15 * 60_000).toISOString(),
        }),
      ),
      /expire|valid/,
    ],
    [
      "issued in the future",
      bytes(
        await commandFor(key, ROBOT, {
          command: "run",
          programId: "pick-red",
        }, {
          issuedAt: new Date(now + 20 * 60_000).toISOString(),
          expiresAt: new Date(now + 25 * 60_000).toISOString(),
        }),
      ),
      /./,
    ],
    [
      "for another program",
      bytes(
        await commandFor(key, ROBOT, { command: "run", programId: "other" }),
      ),
      /other/,
    ],
    [
      "for another version",
      bytes(
        await commandFor(key, ROBOT, {
          command: "run",
          programId: "pick-red",
          version: 2,
        }),
      ),
      /version/,
    ],
    [
      "a resume command",
      bytes(await commandFor(key, ROBOT, { command: "resume" })),
      /resume/,
    ],
    [
      "a window over 10 minutes",
      bytes(
        await good({ expiresAt: new Date(now + 11 * 60_000).toISOString() }),
      ),
      /./,
    ],
    [
      "a duplicate key in the command JSON, validly signed",
      bytes(
        await rawCommand(
          key,
          `{"command":"run","robot":"arm-02","robot":"${ROBOT}","programId":"pick-red","issuedAt":"${
            new Date(now - 1000).toISOString()
          }","expiresAt":"${
            new Date(now + 60_000).toISOString()
          }","nonce":"dupdupdupdupdupdup"}`,
        ),
      ),
      /duplicate|twice|robot/i,
    ],
    [
      "a duplicate key in the envelope JSON",
      bytes(
        (await good()).replace(
          /^\{/,
          `{"payloadType":"${COMMAND_PAYLOAD_TYPE}",`,
        ),
      ),
      /duplicate|twice|payloadType/i,
    ],
    [
      "a tampered signature",
      bytes(
        (await good()).replace(
          /"sig":"(.)/,
          (_, c: string) => `"sig":"${c === "A" ? "B" : "A"}`,
        ),
      ),
      /signature/,
    ],
  ];
  for (const [what, command, details] of cases) {
    const answer = await run(stub, {
      programId: "pick-red",
      ...(command ? { command } : {}),
    });
    assertEquals(
      answer.code,
      "PERMISSION_DENIED",
      `${what}: ${answer.details}`,
    );
    assert(details.test(answer.details), `${what}: ${answer.details}`);
    assertEquals(answer.events, [], what);
  }
  // Deliver with run is held to the same rule.
  const fresh = Buffer.from(await signed(key, { programId: "fresh" }));
  const deliverRun = await unary(stub, "Deliver", {
    envelope: fresh,
    run: true,
  });
  assertEquals(deliverRun.code, "PERMISSION_DENIED", deliverRun.details);
  const other = await unary(stub, "Deliver", {
    envelope: fresh,
    run: true,
    command: Buffer.from(
      await commandFor(key, ROBOT, { command: "run", programId: "other" }),
    ),
  });
  assertEquals(other.code, "PERMISSION_DENIED", other.details);

  // Nothing ran: no evidence, the world as it was.
  assertEquals(await runsOn(stub), []);
  assertEquals(node.service.listRuns().runs, []);

  // A good command runs it; the same command again is a replay.
  const command = bytes(
    await commandFor(key, ROBOT, { command: "run", programId: "pick-red" }),
  );
  const ran = await run(stub, { programId: "pick-red", command });
  assertEquals(ran.code, "OK", ran.details);
  const evidence = evidenceOf(ran.events);
  assertEquals(evidence.outcome, "succeeded", JSON.stringify(evidence.failure));
  assertEquals(evidence.robotId, ROBOT);
  const replayed = await run(stub, { programId: "pick-red", command });
  assertEquals(replayed.code, "PERMISSION_DENIED", replayed.details);
  assertStringIncludes(replayed.details, "used before");
  assertEquals(replayed.events, []);
  assertEquals(await runsOn(stub), [evidence.runId]);

  // The nonce is remembered across a restart of the robot.
  await node.close();
  await using again = await startNode(key, { stateDir: `${key.dir}/state` });
  const restarted = rawClient(`127.0.0.1:${again.grpc.port}`);
  try {
    const replayedLater = await run(restarted, {
      programId: "pick-red",
      command,
    });
    assertEquals(
      replayedLater.code,
      "PERMISSION_DENIED",
      replayedLater.details,
    );
    assertEquals(await runsOn(restarted), [evidence.runId]);
  } finally {
    restarted.close();
  }
});

Deno.test("Stop never needs a command; Resume without a valid one is PERMISSION_DENIED and the stop holds", async () => {
  await using b = await bench();
  const { key, signer, node, stub } = b;
  await unary(stub, "Deliver", {
    envelope: Buffer.from(
      await signed(key, { programId: "spin", source: "while (true) {}" }),
    ),
  });
  // Stop with nothing at all, running or not.
  const idle = await unary(stub, "Stop", {});
  assertEquals(idle.code, "OK", idle.details);
  assertEquals(node.service.state, "stopped");

  const now = Date.now();
  const cases: [string, Uint8Array | undefined][] = [
    ["no command", undefined],
    [
      "signed by a key without the operator role",
      bytes(await commandFor(signer, ROBOT, { command: "resume" })),
    ],
    [
      "for another robot",
      bytes(await commandFor(key, "arm-02", { command: "resume" })),
    ],
    [
      "expired",
      bytes(
        await commandFor(key, ROBOT, { command: "resume" }, {
          issuedAt: new Date(now - 20 * 60_000).toISOString(),
          expiresAt: new Date(now - 15 * 60_000).toISOString(),
        }),
      ),
    ],
    [
      "a run command",
      bytes(
        await commandFor(key, ROBOT, { command: "run", programId: "spin" }),
      ),
    ],
  ];
  for (const [what, command] of cases) {
    const answer = await unary(stub, "Resume", command ? { command } : {});
    assertEquals(
      answer.code,
      "PERMISSION_DENIED",
      `${what}: ${answer.details}`,
    );
    assertEquals(node.service.state, "stopped", what);
  }
  // Runs stay refused while stopped, even with a good command.
  const refused = await run(stub, {
    programId: "spin",
    command: bytes(
      await commandFor(key, ROBOT, { command: "run", programId: "spin" }),
    ),
  });
  assertEquals(refused.code, "FAILED_PRECONDITION", refused.details);

  const resume = bytes(await commandFor(key, ROBOT, { command: "resume" }));
  const resumed = await unary(stub, "Resume", { command: resume });
  assertEquals(resumed.code, "OK", resumed.details);
  assertEquals(resumed.response.wasStopped, true);
  assertEquals(node.service.state, "online");

  // A spinning run is stopped by a bare Stop; the old resume command is spent.
  const started = Promise.withResolvers<void>();
  const spinning = new Promise<{ code: string; events: unknown[] }>(
    (resolve) => {
      const events: unknown[] = [];
      (async () => {
        const call = stub.Run({
          programId: "spin",
          version: 0,
          command: Buffer.from(
            await commandFor(key, ROBOT, { command: "run", programId: "spin" }),
          ),
        });
        call.on("data", (event: unknown) => {
          events.push(event);
          started.resolve();
        });
        call.on(
          "error",
          (error: grpc.ServiceError) => {
            started.resolve();
            resolve({ code: codeName(error), events });
          },
        );
        call.on("end", () => resolve({ code: "OK", events }));
      })();
    },
  );
  await started.promise;
  const stop = await unary(stub, "Stop", { reason: "operator test" });
  assertEquals(stop.code, "OK", stop.details);
  const stopped = await spinning;
  assertEquals(stopped.code, "OK");
  const record = evidenceOf(stopped.events as never[]);
  assertEquals([record.outcome, record.failure?.label], ["stopped", "estop"]);
  const replayed = await unary(stub, "Resume", { command: resume });
  assertEquals(replayed.code, "PERMISSION_DENIED", replayed.details);
  assertEquals(node.service.state, "stopped");
});

Deno.test("only the newest version runs: Run of a superseded version is refused with rejected evidence", async () => {
  await using b = await bench();
  const { key, stub } = b;
  for (const [version, text] of [[1, "one"], [2, "two"]] as const) {
    const answer = await unary(stub, "Deliver", {
      envelope: Buffer.from(
        await signed(key, {
          programId: "versioned",
          version,
          source: `say("${text}");`,
        }),
      ),
    });
    assertEquals(answer.response.receipt.accepted, true, answer.details);
  }
  const old = await run(stub, {
    programId: "versioned",
    version: 1,
    command: bytes(
      await commandFor(key, ROBOT, {
        command: "run",
        programId: "versioned",
        version: 1,
      }),
    ),
  });
  if (old.code === "OK") {
    const evidence = evidenceOf(old.events);
    assertEquals(evidence.outcome, "rejected");
    assertStringIncludes(evidence.failure.message, "superseded");
    assertEquals(evidence.calls, []);
  } else {
    assertStringIncludes(old.details, "superseded");
  }
  const newest = await run(stub, {
    programId: "versioned",
    command: bytes(
      await commandFor(key, ROBOT, { command: "run", programId: "versioned" }),
    ),
  });
  assertEquals(newest.code, "OK", newest.details);
  const evidence = evidenceOf(newest.events);
  assertEquals(evidence.outcome, "succeeded");
  assertEquals(evidence.program.version, 2);
  assertEquals(
    evidence.calls.map((c: { args: unknown[] }) => c.args),
    [["two"]],
  );
});

Deno.test("a manifest valid for ten years is refused: lifetime_too_long", async () => {
  await using b = await bench();
  const { key, stub } = b;
  const now = Date.now();
  const answer = await unary(stub, "Deliver", {
    envelope: Buffer.from(
      await signed(key, {
        programId: "forever",
        issuedAt: new Date(now - 1000).toISOString(),
        expiresAt: new Date(now + 3650 * 86_400_000).toISOString(),
      }),
    ),
    run: true,
    command: Buffer.from(
      await commandFor(key, ROBOT, { command: "run", programId: "forever" }),
    ),
  });
  assertEquals(answer.code, "OK", answer.details);
  assertEquals(answer.response.receipt.accepted, false);
  assertEquals(answer.response.receipt.reason, "lifetime_too_long");
  const listed = await unary(stub, "ListPrograms", {});
  assertEquals(listed.response.programs, []);
});
