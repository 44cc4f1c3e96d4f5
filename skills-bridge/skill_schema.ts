/**
 * The schema of a skill's port (an argument or a result) or of a type the
 * API names: a zod schema, or anything with the same `safeParse` and
 * `toJSONSchema`. Structural on purpose, so that the public API names no
 * type of the validation library.
 *
 * @example
 * ```ts
 * import { ObjectId } from "./skill_api.ts";
 * const checked = ObjectId.safeParse("red-block");
 * if (!checked.success) throw new Error(checked.error.message);
 * ```
 */
export interface SkillSchema<T = unknown> {
  /** Returns `{ success: true, data }`, or `{ success: false, error }` listing each problem. */
  safeParse(value: unknown): SkillSchemaResult<T>;
  /** The schema as JSON Schema (what the prompt's declarations are rendered from). */
  toJSONSchema(options?: { unrepresentable?: "any" | "throw" }): object;
}

/** The outcome of {@linkcode SkillSchema.safeParse}. */
export type SkillSchemaResult<T> =
  | { success: true; data: T }
  | { success: false; error: SkillSchemaError };

/** Why a value does not fit a {@linkcode SkillSchema}: one issue per problem. */
export interface SkillSchemaError extends Error {
  /** Each problem: what is wrong and where (the path into the value). */
  readonly issues: ReadonlyArray<{
    readonly message: string;
    readonly path: ReadonlyArray<PropertyKey>;
  }>;
}
