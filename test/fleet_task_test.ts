import { equal, ok } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { startMosquitto } from "./_mosquitto.ts";

const _REPO = fileURLToPath(new URL("..", import.meta.url));

Deno.test("deno task fleet serves the console on the given address and stops on SIGTERM", async () => {
  await using broker = await startMosquitto();
  const dir = await Deno.makeTempDir({ prefix: "cap-fleet-task-" });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "task",
        "--quiet",
        "fleet",
        "--broker",
        broker.url,
        "--listen",
        "127.0.0.1:0",
        "--db",
        `${dir}/fleet.db`,
      ],
      cwd: _REPO,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const lines = child.stderr.pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    let url: string | undefined;
    while (url === undefined) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
      url = /fleet console on (http:\/\/\S+)/.exec(text)?.[1];
    }
    ok(url, `no "fleet console on" line in: ${text}`);
    const page = await fetch(url);
    equal(page.status, 200);
    ok((await page.text()).includes("cap-edge fleet"));
    const robots = await fetch(`${url}/api/robots`);
    equal(robots.status, 200);
    await robots.body?.cancel();
    child.kill("SIGTERM");
    const status = await child.status;
    while (!(await lines.read()).done) {
      // drain stderr
    }
    equal(status.code, 0);
    const usage = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "fleet", "--listen", "127.0.0.1:0"],
      cwd: _REPO,
      stdout: "piped",
      stderr: "piped",
    }).output();
    equal(usage.code, 2);
    ok(new TextDecoder().decode(usage.stderr).includes("--broker"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
