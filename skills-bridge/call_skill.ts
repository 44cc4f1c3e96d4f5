import { showValue } from "./show_value.ts";
import type { SkillApi } from "./skill_api.ts";
import { findSkill } from "./skill_api.ts";
import type {
  InvokeOptions,
  SkillBackend,
  SkillOutcome,
} from "./skill_backend.ts";

/** Longest rendering of a bad value kept in an error message. */

/**
 * Validates `args` against the skill's zod schemas, then invokes it on the
 * backend and checks its result. Bad arguments never reach the backend: they
 * end `{ ok: false, code: "invalid_argument" }` with a message naming the
 * parameter. A backend that throws or returns a result that breaks the
 * skill's schema ends `backend_error`.
 */
export async function callSkill(
  backend: SkillBackend,
  api: SkillApi,
  skill: string,
  args: readonly unknown[],
  options: InvokeOptions = {},
): Promise<SkillOutcome> {
  const spec = findSkill(api, skill);
  if (spec === undefined) {
    return fail("invalid_argument", `Cannot call "${skill}": no such skill`);
  }
  const required = spec.params.filter((p) => !p.optional).length;
  if (args.length < required || args.length > spec.params.length) {
    const want = required === spec.params.length
      ? `${required}`
      : `${required}-${spec.params.length}`;
    return fail(
      "invalid_argument",
      `Cannot call ${skill}: it takes ${want} argument(s), got ${args.length}`,
    );
  }
  const parsed: unknown[] = [];
  for (const [i, param] of spec.params.entries()) {
    if (i >= args.length) break;
    const value = args[i];
    if (value === undefined && param.optional) {
      parsed.push(undefined);
      continue;
    }
    const result = param.schema.safeParse(value);
    if (!result.success) {
      const why = result.error.issues.map((issue) => {
        const at = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
        return at + issue.message;
      }).join("; ");
      return fail(
        "invalid_argument",
        `Cannot call ${skill}: argument "${param.name}" is invalid (${why}), got ${
          showValue(value)
        }`,
      );
    }
    parsed.push(result.data);
  }
  while (parsed.length > 0 && parsed[parsed.length - 1] === undefined) {
    parsed.pop();
  }
  let outcome: SkillOutcome;
  try {
    outcome = await backend.invoke(skill, parsed, options);
  } catch (error) {
    return fail(
      "backend_error",
      `Cannot run ${skill}: the ${backend.kind} backend failed: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
  if (!outcome.ok) return outcome;
  const value = outcome.value === undefined ? null : outcome.value;
  const checked = spec.result.safeParse(value);
  if (!checked.success) {
    return fail(
      "backend_error",
      `Cannot use the result of ${skill}: the ${backend.kind} backend returned ${
        showValue(value)
      }, which breaks the skill's result schema`,
    );
  }
  return { ok: true, value: checked.data };
}

function fail(
  code: Extract<SkillOutcome, { ok: false }>["error"]["code"],
  message: string,
): SkillOutcome {
  return { ok: false, error: { code, message } };
}
