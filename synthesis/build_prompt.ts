import type { Scene, SkillApi } from "../skills-bridge/mod.ts";
import { renderDeclarations, TABLETOP_API } from "../skills-bridge/mod.ts";
import { ALLOWED_BUILTINS, LANGUAGE_RULES } from "../verifier/mod.ts";
import { _EXAMPLES } from "./_examples.ts";
import type { ChatMessage } from "./llm_client.ts";
import { summarizeScene } from "./summarize_scene.ts";

/** The line that starts the instruction in the user message (the replay server keys on it). */
export const INSTRUCTION_MARKER = "Instruction: ";

/** Options for {@linkcode buildPrompt}. */
export interface BuildPromptOptions {
  /** The scene the program will run in; summarized for the model. */
  scene: Scene;
  /** Postconditions the result must satisfy; shown to the model. */
  checks?: readonly string[];
  /** The skill API. Default: {@linkcode TABLETOP_API}. */
  api?: SkillApi;
}

/**
 * The system prompt: the skill API as TypeScript declarations, the allowed
 * builtins, the language rules, the answer format and Code-as-Policies style
 * examples. It depends only on the API, so it is the same for every task.
 */
export function buildSystemPrompt(api: SkillApi = TABLETOP_API): string {
  const builtins = ALLOWED_BUILTINS.map((b) => {
    const members = b.members === undefined
      ? ""
      : ` (members: ${b.members.join(", ")})`;
    return `- ${b.name}${members}: ${b.doc}`;
  }).join("\n");
  return [
    "You write short JavaScript programs that control a robot arm at a tabletop (Code as Policies).",
    "The program runs in a sandbox that offers only the skills below; it is checked by a static verifier and dry-run in a simulator before it is sent to the robot.",
    "",
    `## Skill API (${api.version}), as TypeScript declarations`,
    "```ts",
    renderDeclarations(api).trim(),
    "```",
    "",
    "Coordinates are in metres: x grows to the right, y grows toward the top (far) edge of the table; left means smaller x, bottom means smaller y. Place points must lie inside workspace(). Objects are about 4 cm wide.",
    'A pick can slip (the skill throws an Error whose code is "grasp_failed" and the object stays): retry it a few times. An object with something on it cannot be picked ("blocked"): move what is on top first.',
    "",
    "## Allowed builtins",
    builtins,
    "",
    "## Language rules",
    LANGUAGE_RULES.trim(),
    "",
    "## Answer format",
    "Answer with the whole program in one ```js code block. Define every helper function you call. Examples may call helpers defined in earlier examples; your program must define them itself.",
    "",
    "## Examples",
    ..._EXAMPLES.map((e) => "```js\n" + e + "\n```"),
  ].join("\n");
}

/** The user message of the first attempt: the scene, the postconditions and the instruction. */
export function buildTaskMessage(
  instruction: string,
  options: BuildPromptOptions,
): string {
  const lines = [summarizeScene(options.scene), ""];
  const checks = options.checks ?? [];
  if (checks.length > 0) {
    lines.push(
      "When the program ends, these JavaScript expressions (over detect, holding and workspace) must all be true:",
      ...checks.map((c) => `- ${c}`),
      "",
    );
  }
  lines.push(`${INSTRUCTION_MARKER}${instruction.trim()}`);
  return lines.join("\n");
}

/**
 * The first prompt for an instruction: the system prompt (API declarations,
 * builtins, rules, examples) and the task (scene summary, postconditions,
 * instruction).
 */
export function buildPrompt(
  instruction: string,
  options: BuildPromptOptions,
): ChatMessage[] {
  return [
    { role: "system", content: buildSystemPrompt(options.api) },
    { role: "user", content: buildTaskMessage(instruction, options) },
  ];
}
