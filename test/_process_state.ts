/**
 * A process's state as `ps` shows it, for tests that watch helper
 * processes (another process's /proc needs all permissions in Deno).
 * @module
 */

/** The state letter(s) `ps` shows for `pid` (`S`, `R`, `T`, `Z`, …), `""` once it is gone. */
export async function processState(pid: number): Promise<string> {
  const out = await new Deno.Command("ps", {
    args: ["-o", "stat=", "-p", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

/** Whether process `pid` is gone, or a zombie (it uses no CPU any more). */
export async function processGone(pid: number): Promise<boolean> {
  const state = await processState(pid);
  return state === "" || state.startsWith("Z");
}
