/**
 * The bridge's npm package: a released rclnodejs, pinned in its lockfile,
 * whose API the bridge uses; nothing else to install.
 * @module
 */
import { assert, assertEquals } from "../_assert.ts";

const BRIDGE = new URL("./bridge/", import.meta.url);

/**
 * rclnodejs releases whose sources the bridge was checked against (the npm
 * tarball's `lib/action/client.js`, `lib/action/client_goal_handle.js`,
 * `lib/node.js`, `lib/qos.js`, `index.js`), with what the bridge relies on.
 */
const CHECKED_RCLNODEJS: Record<string, readonly string[]> = {
  "2.2.0": [
    "ActionClient#sendGoal(goal, feedbackCallback, goalUuid) uses goalUuid as goal_id",
    "ClientGoalHandle#isAccepted() (and the deprecated accepted getter)",
    "ClientGoalHandle#getResult() resolves with the result once the goal is terminal, also ABORTED and CANCELED",
    "ClientGoalHandle#cancelGoal() resolves with the CancelGoal response { return_code, goals_canceling }",
    "Node#createSubscription(type, topic, { qos }, callback), Node#createClient(type, name), Node#destroyClient(client)",
    "new QoS(history, depth, reliability, durability) with HistoryPolicy/ReliabilityPolicy/DurabilityPolicy constants",
  ],
};

Deno.test("the bridge's lockfile pins a released rclnodejs whose API the bridge uses", async () => {
  const pkg = JSON.parse(
    await Deno.readTextFile(new URL("package.json", BRIDGE)),
  );
  const lock = JSON.parse(
    await Deno.readTextFile(new URL("package-lock.json", BRIDGE)),
  );
  assertEquals(lock.lockfileVersion, 3);
  assertEquals(Object.keys(pkg.dependencies), ["rclnodejs"]);
  const wanted: string = pkg.dependencies.rclnodejs;
  assert(/^\d+\.\d+\.\d+$/.test(wanted), "rclnodejs is pinned exactly");
  assertEquals(lock.packages[""].dependencies, pkg.dependencies);
  const rcl = lock.packages["node_modules/rclnodejs"];
  assertEquals(rcl.version, wanted);
  assert(
    CHECKED_RCLNODEJS[rcl.version] !== undefined,
    `rclnodejs ${rcl.version} is one the bridge was checked against (${
      Object.keys(CHECKED_RCLNODEJS).join(", ")
    })`,
  );
  assert(
    /^sha512-/.test(rcl.integrity),
    "npm ci checks the tarball's integrity",
  );
  assertEquals(
    rcl.hasInstallScript,
    true,
    "its install script builds the addon and generates messages at install time",
  );
  // Node.js engines: the bridge's own range does not admit a Node.js rclnodejs refuses.
  assertEquals(pkg.engines.node, `>=${rcl.engines.node.replace(/^>=\s*/, "")}`);
});

Deno.test("the bridge imports only rclnodejs (lazily) and Node.js built-ins", async () => {
  const seen: string[] = [];
  for await (const entry of Deno.readDir(BRIDGE)) {
    if (!entry.isFile || !entry.name.endsWith(".js")) continue;
    const text = await Deno.readTextFile(new URL(entry.name, BRIDGE));
    for (
      const [, specifier] of text.matchAll(/^import .* from "([^"]+)";$/gm)
    ) {
      seen.push(specifier!);
      assert(
        specifier!.startsWith("node:") || specifier!.startsWith("./"),
        `${entry.name} imports ${specifier} statically`,
      );
    }
  }
  assert(seen.includes("node:net"));
  const bridge = await Deno.readTextFile(new URL("bridge.js", BRIDGE));
  assert(
    bridge.includes('? "rclnodejs"'),
    "rclnodejs is imported by name, lazily",
  );
});

Deno.test("the stand-in has the module surface the bridge checks for", async () => {
  const fake = await import("./bridge/testing/fake_rclnodejs.js");
  for (const name of ["init", "shutdown", "Node", "ActionClient", "QoS"]) {
    const surface: Record<string, unknown> = fake.default;
    assertEquals(typeof surface[name], "function", name);
  }
});
