import { ok } from "node:assert/strict";
import { LANGUAGE_RULES } from "./language_rules.ts";
import { SANDBOX_LIMITS } from "./sandbox_limits.ts";
import { _FORBIDDEN_PROPERTIES, _REGEXP_METHODS } from "./_rules.ts";
import { ALLOWED_BUILTINS } from "./allowed_builtins.ts";

Deno.test("the language rules are rendered from the verifier's rules and the sandbox's limits", () => {
  for (const name of [..._FORBIDDEN_PROPERTIES, ..._REGEXP_METHODS]) {
    ok(LANGUAGE_RULES.includes(name), name);
  }
  for (const builtin of ALLOWED_BUILTINS) {
    ok(LANGUAGE_RULES.includes(builtin.name), builtin.name);
  }
  ok(
    LANGUAGE_RULES.includes(
      `longer than ${SANDBOX_LIMITS.maxArrayLength} elements`,
    ),
  );
  ok(LANGUAGE_RULES.includes("over 10^7 characters"));
  ok(
    LANGUAGE_RULES.includes(
      `at most ${SANDBOX_LIMITS.maxSkillArgumentDepth} levels deep`,
    ),
  );
  ok(!LANGUAGE_RULES.includes("undefined levels"));
});
