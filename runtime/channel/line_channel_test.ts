import { assert, assertEquals } from "../../test/_assert.ts";
import { LineChannel } from "./line_channel.ts";

const anything = {
  safeParse: (value: unknown) => ({ success: true as const, data: value }),
};

/** A stream with every line already buffered, as a pipe holds a burst. */
function buffered(lines: string[]): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(lines.map((l) => `${l}\n`).join(""));
  return new ReadableStream({
    start(controller) {
      for (let at = 0; at < bytes.length; at += 64 * 1024) {
        controller.enqueue(bytes.slice(at, at + 64 * 1024));
      }
      controller.close();
    },
  });
}

Deno.test("a burst of long lines lets timers run between them: the event loop is not held for the burst", async () => {
  const long = JSON.stringify({ text: "x".repeat(512 * 1024) });
  const channel = new LineChannel<unknown>(
    buffered(Array(12).fill(long)),
    new WritableStream<Uint8Array>(),
    { name: "the test", schema: anything },
  );
  const events: string[] = [];
  setTimeout(() => events.push("timer"), 0);
  for await (const _ of channel) events.push("line");
  assertEquals(events.filter((e) => e === "line").length, 12);
  const timer = events.indexOf("timer");
  assert(
    timer >= 0 && timer < events.length - 1,
    `the timer ran only after every line: ${events.join(",")}`,
  );
});

Deno.test("short lines are read back to back", async () => {
  const channel = new LineChannel<unknown>(
    buffered(Array(100).fill('{"a":1}')),
    new WritableStream<Uint8Array>(),
    { name: "the test", schema: anything },
  );
  let lines = 0;
  for await (const value of channel) {
    assertEquals(value, { a: 1 });
    lines += 1;
  }
  assertEquals(lines, 100);
});
