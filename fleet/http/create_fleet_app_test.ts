import { deepEqual, equal, rejects } from "node:assert/strict";
import { openSqliteStore } from "../store/mod.ts";
import { startFleetConsole } from "../start_fleet_console.ts";
import { createFleetApp } from "./create_fleet_app.ts";
import { checkPassword, hashPassword } from "./hash_password.ts";

Deno.test("a console with users asks for a login, then answers", async () => {
  await using store = await openSqliteStore(":memory:");
  const stops: string[] = [];
  const shutdown = new AbortController();
  const { fetch: handle } = createFleetApp({
    store,
    stopper: {
      stop: (robotId) => {
        stops.push(robotId);
        return Promise.resolve();
      },
    },
    users: new Map([["ops", await hashPassword("s3cret")]]),
    signal: shutdown.signal,
  });
  const call = async (path: string, init: RequestInit = {}) => {
    const res = await handle(new Request(`http://console${path}`, init));
    return { status: res.status, headers: res.headers, body: await res.json() };
  };
  const anonymous = await call("/api/robots");
  equal(anonymous.status, 401);
  equal(
    anonymous.headers.get("www-authenticate")?.startsWith("Basic "),
    true,
  );
  const wrong = { authorization: `Basic ${btoa("ops:nope")}` };
  equal((await call("/api/robots", { headers: wrong })).status, 401);
  const right = { authorization: `Basic ${btoa("ops:s3cret")}` };
  const answered = await call("/api/robots", { headers: right });
  equal(answered.status, 200);
  deepEqual(answered.body, []);
  const stop = await call("/api/robots/arm-09/stop", {
    method: "POST",
    headers: { ...right, "content-type": "application/json" },
    body: "{}",
  });
  equal(stop.status, 200);
  deepEqual(stops, ["arm-09"]);
  shutdown.abort();
});

Deno.test("hashPassword and checkPassword agree, and refuse others", async () => {
  const hash = await hashPassword("correct horse");
  equal(await checkPassword("correct horse", hash), true);
  equal(await checkPassword("correct horsE", hash), false);
  equal(await checkPassword("x", "garbage"), false);
});

Deno.test("the console refuses to listen beyond loopback without TLS and a login", async () => {
  await rejects(
    () =>
      startFleetConsole({
        broker: "mqtt://127.0.0.1:1",
        listen: "0.0.0.0:0",
        db: ":memory:",
      }),
    (error: Error) => {
      equal(error instanceof TypeError, true);
      equal(error.message.includes("needs TLS"), true);
      return true;
    },
  );
  await rejects(
    () =>
      startFleetConsole({
        broker: "mqtt://127.0.0.1:1",
        listen: "nonsense",
        db: ":memory:",
      }),
    TypeError,
  );
});
