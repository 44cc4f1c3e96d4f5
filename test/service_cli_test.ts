/**
 * `deno task start` flags as an operator uses them: `--listen`,
 * `--log-level`, and configuration errors that exit 2 naming the field.
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { freePort } from "./_mosquitto.ts";
import { ROOT, runDeno } from "./_run_cli.ts";

async function startTask(
  args: string[],
  cwd: string,
  whileServing: () => Promise<void> = () => Promise.resolve(),
): Promise<{ lines: Record<string, unknown>[]; code: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "task",
      "--config",
      new URL("deno.json", ROOT).pathname,
      "start",
      ...args,
    ],
    cwd,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  let buffer = "";
  const decoder = new TextDecoder();
  let signalled = false;
  let served: Promise<void> = Promise.resolve();
  for await (const chunk of child.stderr) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (!line.startsWith("{")) continue;
      const record = JSON.parse(line);
      lines.push(record);
      if (!signalled && String(record.msg).includes("serving gRPC")) {
        signalled = true;
        served = whileServing().finally(() => child.kill("SIGTERM"));
      }
    }
  }
  await served;
  return { lines, code: (await child.status).code };
}

Deno.test("deno task start --listen serves there; --log-level info drops debug lines", async () => {
  const cwd = await Deno.makeTempDir({ prefix: "cap-start-" });
  try {
    const port = freePort();
    const { lines, code } = await startTask(
      ["--listen", `127.0.0.1:${port}`, "--log-level", "info"],
      cwd,
    );
    assertEquals(code, 0, JSON.stringify(lines));
    const serving = lines.find((l) => String(l.msg).includes("serving gRPC"));
    assertStringIncludes(String(serving?.msg), `127.0.0.1:${port}`);
    assert(lines.every((l) => l.level !== "debug"), JSON.stringify(lines));
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("deno task start: usage and configuration errors exit 2 naming the field", async () => {
  const cwd = await Deno.makeTempDir({ prefix: "cap-start-" });
  try {
    const start = (...args: string[]) =>
      runDeno([
        "task",
        "--config",
        new URL("deno.json", ROOT).pathname,
        "start",
        ...args,
      ], {
        cwd,
        env: { NO_COLOR: "1" },
      });
    const level = await start("--log-level", "loud");
    assertEquals(level.code, 2, level.stderr);
    assertStringIncludes(level.stderr, "--log-level");

    const listen = await start("--listen", "nowhere");
    assertEquals(listen.code, 2, listen.stderr);
    assertStringIncludes(listen.stderr, "grpc.listen");

    await Deno.writeTextFile(
      `${cwd}/config.json`,
      JSON.stringify({
        robotId: "arm-01",
        stateDir: ".state",
        grpc: { listen: `127.0.0.1:${freePort()}` },
        trustStore: "missing/trust.json",
        backend: { kind: "sim" },
      }),
    );
    const trust = await start("--config", `${cwd}/config.json`);
    assertEquals(trust.code, 2, trust.stderr);
    assertStringIncludes(trust.stderr, "trustStore");
    assertStringIncludes(trust.stderr, `${cwd}/missing/trust.json`);
    assertStringIncludes(trust.stderr, "cap init");
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("deno task start with metrics.listen serves Prometheus text", async () => {
  const cwd = await Deno.makeTempDir({ prefix: "cap-start-" });
  try {
    const metricsPort = freePort();
    await Deno.writeTextFile(`${cwd}/trust.json`, JSON.stringify({ keys: [] }));
    await Deno.writeTextFile(
      `${cwd}/config.json`,
      JSON.stringify({
        robotId: "arm-01",
        stateDir: ".state",
        grpc: { listen: `127.0.0.1:${freePort()}` },
        trustStore: "trust.json",
        backend: { kind: "sim" },
        metrics: { listen: `127.0.0.1:${metricsPort}` },
      }),
    );
    let text = "";
    const { code, lines } = await startTask(
      ["--config", `${cwd}/config.json`],
      cwd,
      async () => {
        const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
        text = await response.text();
      },
    );
    assertEquals(code, 0, JSON.stringify(lines));
    assertStringIncludes(text, "# TYPE cap_runs_total counter");
    assertStringIncludes(text, "# TYPE cap_stop_latency_seconds histogram");
    assertStringIncludes(text, "cap_gateway_restarts_total 0");
    assertStringIncludes(text, "cap_sandbox_restarts_total 0");
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});
