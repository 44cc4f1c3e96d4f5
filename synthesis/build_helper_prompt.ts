import type { SkillApi } from "../skills-bridge/mod.ts";
import { buildSystemPrompt } from "./build_prompt.ts";
import type { ChatMessage } from "./llm_client.ts";

/** The line that names the helper in a helper request (the replay server keys on it). */
export const HELPER_MARKER = "Helper: ";

/** Options for {@linkcode buildHelperPrompt}. */
export interface BuildHelperPromptOptions {
  /** The program that calls the helper (with the helpers written so far). */
  program: string;
  /** The instruction the program is for, as context. */
  instruction?: string;
  /** The skill API. Default: the tabletop API. */
  api?: SkillApi;
}

/**
 * The prompt that asks the model to write one helper function the program
 * calls but does not define (hierarchical generation, as in Code as Policies).
 */
export function buildHelperPrompt(
  name: string,
  options: BuildHelperPromptOptions,
): ChatMessage[] {
  const context = options.instruction === undefined
    ? []
    : [`The program is for the instruction: ${options.instruction.trim()}`];
  return [
    { role: "system", content: buildSystemPrompt(options.api) },
    {
      role: "user",
      content: [
        `The program below calls the helper function ${name}, which it does not define.`,
        ...context,
        "```js",
        options.program.trim(),
        "```",
        `Write the function declaration \`function ${name}(…) { … }\` (and any helpers it needs), matching how the program calls it. Answer with only the function declaration(s) in one \`\`\`js code block, no top-level calls.`,
        `${HELPER_MARKER}${name}`,
      ].join("\n"),
    },
  ];
}
