/**
 * What `cap` loads, read from `deno info --json`: the entry loads commands
 * only on demand, `cap run` and `cap verify` load no gRPC, MQTT, LLM or MCAP
 * code, and no command module imports the entry back (no cycle).
 * @module
 */
import { assert, assertEquals } from "../test/_assert.ts";
import { COMMANDS } from "./cap.ts";

interface _Info {
  modules: Array<{
    specifier: string;
    dependencies?: Array<{
      code?: { specifier: string };
      isDynamic?: boolean;
    }>;
  }>;
  redirects: Record<string, string>;
}

async function _info(path: string): Promise<_Info> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", path],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "null",
  }).output();
  assert(output.success, `deno info ${path} failed`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

/** Every module `root` loads; `dynamic: false` follows only static imports. */
function _closure(info: _Info, root: string, dynamic: boolean): Set<string> {
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const todo = [root];
  while (todo.length > 0) {
    const next = todo.pop()!;
    const specifier = info.redirects[next] ?? next;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dep of bySpecifier.get(specifier)?.dependencies ?? []) {
      if (dep.code && (dynamic || dep.isDynamic !== true)) {
        todo.push(dep.code.specifier);
      }
    }
  }
  return seen;
}

const _HEAVY = /grpc|proto-loader|mqtt|openai|@mcap|hono|postgres/;

Deno.test("cap.ts loads no command statically", async () => {
  const info = await _info("cli/cap.ts");
  const root = new URL("./cap.ts", import.meta.url).href;
  const loaded = [..._closure(info, root, false)];
  const heavy = loaded.filter((s) => _HEAVY.test(s));
  assertEquals(heavy, [], "cap.ts statically loads heavy dependencies");
  const here = new URL("./", import.meta.url).href;
  const commands = loaded.filter((s) =>
    s.startsWith(here) && /^[a-z][^/]*\.ts$/.test(s.slice(here.length)) &&
    s !== root
  );
  assertEquals(commands, [], "cap.ts statically loads a command module");
});

Deno.test("cap run and cap verify load no gRPC, MQTT, LLM or MCAP code", async () => {
  for (const command of ["run", "verify"]) {
    const path = `cli/${command}.ts`;
    const info = await _info(path);
    const root = new URL(`./${command}.ts`, import.meta.url).href;
    const heavy = [..._closure(info, root, true)].filter((s) => _HEAVY.test(s));
    assertEquals(heavy, [], `${path} loads heavy dependencies`);
  }
});

Deno.test("no command module imports cap.ts back (no cycle)", async () => {
  const info = await _info("cli/cap.ts");
  const entry = new URL("./cap.ts", import.meta.url).href;
  const importers = info.modules.filter((m) =>
    m.specifier !== entry &&
    (m.dependencies ?? []).some((d) => d.code?.specifier === entry)
  ).map((m) => m.specifier);
  assertEquals(importers, []);
  assert(Object.keys(COMMANDS).length >= 15);
});
