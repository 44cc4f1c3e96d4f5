import { assertEquals, assertStringIncludes } from "../test/_assert.ts";
import { _ROOT } from "./_install_layout.ts";
import { runCommand, type RunResult } from "../test/_run_cli.ts";

const SCRIPT = `${_ROOT}/deploy/ros2_env.sh`;

function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<RunResult> {
  return runCommand("bash", [SCRIPT, ...args], { env });
}

Deno.test("ros2_env.sh writes a sourced ROS 2 as an EnvironmentFile, overlays in order, nothing else", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cap-edge-ros2-env-" });
  try {
    await Deno.writeTextFile(
      `${dir}/setup.bash`,
      [
        "export AMENT_PREFIX_PATH=/opt/ros/jazzy",
        "export ROS_DISTRO=jazzy",
        "export LD_LIBRARY_PATH=/opt/ros/jazzy/lib",
        "export RMW_IMPLEMENTATION=rmw_cyclonedds_cpp",
        "export API_TOKEN=not-for-the-unit",
        "",
      ].join("\n"),
    );
    await Deno.writeTextFile(
      `${dir}/overlay.bash`,
      "export AMENT_PREFIX_PATH=/opt/cap-msgs/install:$AMENT_PREFIX_PATH\n",
    );
    // The caller's own environment does not leak into the file.
    const ok = await run([`${dir}/setup.bash`, `${dir}/overlay.bash`], {
      ROS_DOMAIN_ID: "42",
    });
    assertEquals(ok.code, 0, ok.stderr);
    assertEquals(
      ok.stdout,
      [
        "AMENT_PREFIX_PATH=/opt/cap-msgs/install:/opt/ros/jazzy",
        "LD_LIBRARY_PATH=/opt/ros/jazzy/lib",
        "RMW_IMPLEMENTATION=rmw_cyclonedds_cpp",
        "ROS_DISTRO=jazzy",
        "",
      ].join("\n"),
    );

    await Deno.writeTextFile(`${dir}/other.bash`, "export FOO=1\n");
    const notRos = await run([`${dir}/other.bash`]);
    assertEquals(notRos.code, 1);
    assertStringIncludes(notRos.stderr, "did not set AMENT_PREFIX_PATH");

    const missing = await run([`${dir}/nope.bash`]);
    assertEquals(missing.code, 1);
    assertStringIncludes(missing.stderr, "cannot read ROS 2 setup file");

    const usage = await run([]);
    assertEquals(usage.code, 2);
    assertStringIncludes(usage.stderr, "usage:");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
