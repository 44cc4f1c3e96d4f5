import { assert, assertEquals, assertThrows } from "../../test/_assert.ts";
import { StateDirInUseError, StateDirLock } from "./state_dir_lock.ts";

Deno.test("a state directory is held by one holder at a time, in this process or another", async () => {
  const dir = await Deno.makeTempDir();
  try {
    {
      using _held = StateDirLock.take(dir);
      const error = assertThrows(
        () => StateDirLock.take(dir),
        StateDirInUseError,
      );
      assert(error.message.includes(dir), error.message);
      // Another process is refused too, at once.
      const other = await new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          `import { StateDirLock } from ${
            JSON.stringify(new URL("./state_dir_lock.ts", import.meta.url).href)
          };
          try { StateDirLock.take(${
            JSON.stringify(dir)
          }); console.log("took"); }
          catch (error) { console.log(error.name); }`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(
        new TextDecoder().decode(other.stdout).trim(),
        "StateDirInUseError",
        new TextDecoder().decode(other.stderr),
      );
    }
    // Let go, it can be taken again.
    using again = StateDirLock.take(dir);
    assert(again);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a lock file that is no database is replaced", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/lock.sqlite`, "not a database at all");
    using lock = StateDirLock.take(dir);
    assert(lock);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
