/**
 * The core's event loop while it validates a large signed envelope (issue
 * 9): the envelope is read, parsed strictly and its signature checked in
 * the verifier's worker, so a timer and a small Validate settle while the
 * large one is still being checked.
 */
import { assertEquals } from "./_assert.ts";
import { makeKey, signed, startNode } from "./_edge_fixture.ts";
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
