import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { findMosquitto, preflight, type Requirement } from "./_preflight.ts";

const absent: Requirement = {
  name: "Nothing",
  aptPackage: "cap-nothing",
  find: () => null,
};

Deno.test("preflight passes when everything is found", async () => {
  const result = await preflight({
    requirements: [{ name: "Here", aptPackage: "here", find: () => "/bin/sh" }],
  });
  assertEquals(result, { ok: true });
});

Deno.test("preflight without installing says in one line what to run", async () => {
  const result = await preflight({ requirements: [absent], install: false });
  assert(!result.ok);
  assertEquals(result.message.split("\n").length, 1, result.message);
  assertStringIncludes(result.message, "Nothing not found");
  assertStringIncludes(result.message, "cap-nothing");
});

Deno.test("the broker the suite needs is found", () => {
  // The preflight ran before the suite: it is there, or the suite stopped.
  assert(
    findMosquitto() !== null,
    "mosquitto: the preflight should have stopped",
  );
});
