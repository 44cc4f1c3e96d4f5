/**
 * The core's event loop while it validates a large signed envelope (issue
 * 9): the envelope is read, parsed strictly and its signature checked in
 * the verifier's worker, so a timer and a small Validate settle while the
 * large one is still being checked.
 */
import { assertEquals } from "./_assert.ts";
import { makeKey, signed, startNode, withNode } from "./_edge_fixture.ts";
import type { EdgeCallError } from "../runtime/grpc/mod.ts";
import { parsesOfAtLeast } from "./_json_parse_spy.ts";

Deno.test("Validate of a large envelope leaves the core's event loop free: a timer and a small Validate settle first", async () => {
  const key = await makeKey();
  try {
    await using node = await startNode(key);
    const source = Array.from(
      { length: 1500 },
      (_, i) => `const b${i} = detect("red block");`,
    ).join("\n");
    const trace = Array.from({ length: 12_000 }, (_, i) => ({
      step: i,
      note: `attempt ${i} of the synthesis loop`,
    }));
    const large = await signed(key, {
      programId: "large",
      source,
      provenance: { model: "test", attempts: 1, trace },
    });
    const small = await signed(key, { programId: "small" });
    assertEquals(large.length > 800_000, true, `${large.length} characters`);
    // Warm: the worker is loaded and the program's report is known.
    const first = await node.service.validate(large);
    assertEquals(first.accepted, true, first.message);

    const order: string[] = [];
    const parsedHere = await parsesOfAtLeast(large.length, () =>
      Promise.all([
        node.service.validate(large).then((receipt) => {
          order.push(`large ${receipt.accepted}`);
        }),
        new Promise((resolve) => setTimeout(resolve, 0)).then(() => {
          order.push("timer");
        }),
        node.service.validate(small).then((receipt) => {
          order.push(`small ${receipt.accepted}`);
        }),
      ]));
    assertEquals(order.at(-1), "large true", order.join(", "));
    assertEquals(parsedHere, 0, "the large envelope is parsed in the worker");
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});

Deno.test("the gateway forwards at most grpc.maxCallsInFlight calls at once; beyond, UNAVAILABLE at once, and a Stop still goes through", async () => {
  await withNode(async (node, client, key) => {
    // Each takes the verifier a while (about 50 ms here), one at a time:
    // the first 8 are still in progress when the last arrive.
    const source = Array.from(
      { length: 800 },
      (_, i) =>
        `const b${i} = detect("red block"); if (b${i}.length > 0) { say("x"); }`,
    ).join("\n");
    const envelopes = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          signed(key, {
            programId: `heavy-${i}`,
            source: `${source}\n// ${i}`,
          }),
      ),
    );
    const calls = envelopes.map((envelope) =>
      client.validate(envelope).then(
        (receipt) =>
          receipt.accepted ? "accepted" : `refused ${receipt.message}`,
        (error: EdgeCallError) => `${error.code} ${error.message}`,
      )
    );
    // Once the gateway refuses a call (or, failing that, all are
    // answered), a Stop still goes through.
    const refusing = Promise.withResolvers<void>();
    for (const call of calls) {
      void call.then((a) => a.startsWith("UNAVAILABLE") && refusing.resolve());
    }
    await Promise.race([refusing.promise, Promise.all(calls)]);
    await client.stop("stop in the flood");
    assertEquals(node.service.state, "stopped");
    const answers = await Promise.all(calls);
    const busy = answers.filter((a) => a.startsWith("UNAVAILABLE"));
    assertEquals(
      answers.filter((a) => a === "accepted").length >= 8,
      true,
      answers.slice(0, 3).join("\n"),
    );
    assertEquals(
      busy.length + answers.filter((a) => a === "accepted").length,
      20,
      answers.join("\n"),
    );
    assertEquals(busy.length > 0, true, "none was refused");
    assertEquals(/calls in progress/.test(busy[0]!), true, busy[0]);
    // Once they are answered, the gateway takes calls again.
    assertEquals((await client.validate(envelopes[0]!)).accepted, true);
  }, { grpc: { listen: "127.0.0.1:0", maxCallsInFlight: 8 } });
});
