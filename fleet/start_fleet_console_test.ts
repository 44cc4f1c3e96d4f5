import { deepEqual, equal } from "node:assert/strict";
import { startFleetConsole } from "./start_fleet_console.ts";

Deno.test("the console serves its store while the broker is away", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const warnings: string[] = [];
  await using fleet = await startFleetConsole({
    broker: `mqtt://127.0.0.1:${port}`,
    listen: "127.0.0.1:0",
    db: ":memory:",
    brokerWaitMs: 200,
    connections: 1,
    log: (level, msg) => {
      if (level === "warn") warnings.push(msg);
    },
  });
  const res = await fetch(`${fleet.url}/api/robots`);
  equal(res.status, 200);
  deepEqual(await res.json(), []);
  equal(warnings.some((w) => w.includes("not reachable")), true);
  equal(fleet.ingest.stats().connected, 0);
});
