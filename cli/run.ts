import { parseScene, type Scene, SceneError } from "../skills-bridge/mod.ts";
import { DEFAULT_CAPS, runLocal } from "../runtime/executor/mod.ts";
import { _parseFlags } from "./_args.ts";
import { _readText } from "./_read_text.ts";
import { UsageError } from "./_usage_error.ts";
import { _renderEvidence } from "./_run_view.ts";

const HELP =
  `Usage: deno task cap run <program.js> [--world <scene.json>] [--instruction <text>]
         [--check <expr>]… [--timeout-ms N] [--memory-mb N] [--max-calls N] [--json]

Runs a program once, unsigned, against the built-in tabletop simulator
(development use; the service runs only signed programs) and prints its
evidence record.

Options:
  --world <file>      scene file (default: the design's two-object scene)
  --instruction <t>   the instruction the program was written for
  --check <expr>      a postcondition over detect/holding/workspace (repeatable)
  --timeout-ms N      wall deadline (default ${DEFAULT_CAPS.timeoutMs})
  --memory-mb N       QuickJS heap limit in MiB (default ${
    DEFAULT_CAPS.memoryBytes / 1024 / 1024
  })
  --max-calls N       skill-call budget (default ${DEFAULT_CAPS.maxSkillCalls})
  --json              print only the evidence record as JSON
  -h, --help          show this help
Exit: 0 when the outcome is "succeeded", 1 otherwise, 2 on bad usage.`;

/** The scene used when `--world` is not given (the design's example). */
export const DEFAULT_SCENE_JSON = {
  seed: 7,
  objects: [
    { id: "red_block", kind: "block", color: "red", x: 0.1, y: -0.5 },
    { id: "blue_bowl", kind: "bowl", color: "blue", x: -0.1, y: -0.4 },
  ],
};

/** `cap run`: exit 0 when the run succeeded, 1 otherwise, 2 on bad usage. */
export async function runCommand(
  args: string[],
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  const flags = _parseFlags(args, {
    string: ["world", "instruction", "timeout-ms", "memory-mb", "max-calls"],
    boolean: ["json"],
    collect: ["check"],
    integers: ["timeout-ms", "memory-mb", "max-calls"],
  });
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  if (flags._.length !== 1) {
    throw new UsageError(
      `expects one program file, got ${flags._.length}\n\n${HELP}`,
    );
  }
  const path = flags._[0]!;
  const source = await _readText(path, "program");
  let scene: Scene;
  if (typeof flags.world === "string") {
    const text = await _readText(flags.world, "scene");
    try {
      scene = parseSceneText(text, flags.world);
    } catch (error) {
      if (error instanceof SceneError) throw new UsageError(error.message);
      throw error;
    }
  } else {
    scene = parseScene(DEFAULT_SCENE_JSON, { source: "default scene" });
  }
  const caps = {
    timeoutMs: num(flags["timeout-ms"]) ?? DEFAULT_CAPS.timeoutMs,
    memoryBytes:
      (num(flags["memory-mb"]) ?? DEFAULT_CAPS.memoryBytes / 1024 / 1024) *
      1024 * 1024,
    maxSkillCalls: num(flags["max-calls"]) ?? DEFAULT_CAPS.maxSkillCalls,
  };
  const evidence = await runLocal(source, {
    scene,
    instruction: typeof flags.instruction === "string"
      ? flags.instruction
      : null,
    checks: (flags.check as string[] | undefined) ?? [],
    caps,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (flags.json === true) console.log(JSON.stringify(evidence, null, 2));
  else console.log(_renderEvidence(evidence));
  return evidence.outcome === "succeeded" ? 0 : 1;
}

function parseSceneText(text: string, source: string): Scene {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SceneError(
      `Cannot load scene "${source}": not valid JSON (${
        error instanceof Error ? error.message : String(error)
      })`,
    );
  }
  return parseScene(value, { source });
}

function num(value: unknown): number | undefined {
  return value === undefined ? undefined : Number(value);
}

export { _renderEvidence };
