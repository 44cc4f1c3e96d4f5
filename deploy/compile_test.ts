import { assert, assertEquals, assertStringIncludes } from "../test/_assert.ts";
import { HELPER_V8_FLAGS } from "../runtime/channel/mod.ts";
import { clientFor, makeKey, signed } from "../test/_edge_fixture.ts";
import { freePort } from "../test/_mosquitto.ts";
import {
  _flagValue,
  _permissionIssues,
  _splitDenoCommand,
} from "./_deno_permissions.ts";
import { _ROOT, type _TestLayout, _toTestLayout } from "./_install_layout.ts";
import { _spawnService } from "./_service_process.ts";
import { _splitCommandLine } from "./_systemd_unit.ts";

/** The `compile` task of deno.json as argv. */
async function compileTask(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${_ROOT}/deno.json`));
  const task = config.tasks?.compile;
  assert(typeof task === "string", "deno.json has a compile task");
  return _splitCommandLine(task);
}

Deno.test("deno task compile bakes in the service's narrow permissions and includes what loads at run time", async () => {
  const command = _splitDenoCommand(await compileTask());
  assertEquals(command.executable, "deno");
  assertEquals(command.subcommand, "compile");
  assertEquals(command.script, "runtime/main.ts");
  assertEquals(command.scriptArgs, []);
  assertEquals(_permissionIssues(command.flags), []);
  // The same grants as the systemd unit, with the embedded protos/ instead of
  // the install dir.
  assertEquals(
    command.flags.filter((f) => f.startsWith("--allow-")),
    [
      "--allow-run=deno",
      "--allow-read=protos,/etc/cap-edge,/var/lib/cap-edge",
      "--allow-write=/var/lib/cap-edge",
      "--allow-net=127.0.0.1:50051,127.0.0.1:1883",
      "--allow-env",
      "--allow-sys=uid,setPriority",
    ],
  );
  const includes = command.flags.filter((f) => f.startsWith("--include="));
  assertEquals(includes, [
    "--include=protos",
    "--include=runtime/sandbox/_worker.ts",
    "--include=runtime/sandbox/host_main.ts",
    "--include=runtime/grpc/gateway_main.ts",
    "--include=runtime/executor/_verify_worker.ts",
  ]);
  assertEquals(_flagValue(command.flags, "--output"), "dist/cap-edge");
  // The binary runs with the V8 flags its helper processes get.
  assert(command.flags.includes(HELPER_V8_FLAGS));
  // The worker module is loaded by URL at run time, so it must exist where
  // the include says.
  assert((await Deno.stat(`${_ROOT}/runtime/sandbox/_worker.ts`)).isFile);
  assert((await Deno.stat(`${_ROOT}/protos/cap/v1/edge.proto`)).isFile);
});

// Compiling needs Deno's `denort` runtime for this host: downloaded from
// dl.deno.land, or the file named by DENORT_BIN. It takes tens of seconds,
// so it runs with CAP_SLOW=1 only.
Deno.test({
  name:
    "the compiled binary starts with its baked-in permissions and answers the health check (CAP_SLOW=1)",
  ignore: Deno.env.get("CAP_SLOW") !== "1",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "cap-edge-compile-" });
    const key = await makeKey();
    try {
      const layout: _TestLayout = {
        etc: `${dir}/etc`,
        state: `${dir}/state`,
        grpcPort: freePort(),
        mqttPort: freePort(),
      };
      await Deno.mkdir(layout.etc);
      await Deno.mkdir(layout.state);
      const [, ...args] = (await compileTask()).map((arg) =>
        _toTestLayout(arg, layout).replace(
          "--output=dist/cap-edge",
          `--output=${dir}/cap-edge`,
        )
      );
      const compiled = await new Deno.Command(Deno.execPath(), {
        args,
        cwd: _ROOT,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert(
        compiled.success,
        `deno compile failed (without internet it needs DENORT_BIN): ${
          new TextDecoder().decode(compiled.stderr)
        }`,
      );

      const config = JSON.parse(
        await Deno.readTextFile(`${_ROOT}/deploy/sim.example.json`),
      );
      delete config.mqtt;
      delete config.backend.world;
      await Deno.writeTextFile(
        `${layout.etc}/config.json`,
        _toTestLayout(JSON.stringify(config), layout),
      );
      await Deno.copyFile(key.trustPath, `${layout.etc}/trust.json`);

      await using service = _spawnService(
        [`${dir}/cap-edge`, "--config", `${layout.etc}/config.json`],
        { env: { NO_COLOR: "1" }, cwd: dir },
      );
      await service.waitForLine(/serving gRPC on 127\.0\.0\.1:/);
      using client = clientFor(`127.0.0.1:${layout.grpcPort}`, key, "arm-01");
      assertEquals(await client.health(), "SERVING");
      // The sandbox worker, loaded by URL, made it into the binary.
      const { receipt, evidence } = await client.deliver(await signed(key), {
        run: true,
      });
      assert(receipt.accepted, receipt.message);
      assertEquals(evidence?.outcome, "succeeded", JSON.stringify(evidence));
      const status = await service.stop("SIGTERM");
      assertEquals(status.code, 0, service.stderr());
      assertStringIncludes(service.stderr(), '"msg":"closed"');
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(key.dir, { recursive: true });
    }
  },
});
