/**
 * The skill API the verifier checks calls against. Structural on purpose so
 * that `verifier/` imports nothing of ours: `TABLETOP_API` from
 * `skills-bridge/` fits it as is.
 */
export interface VerifierApi {
  /** The skills a program may call, as synchronous globals. */
  readonly skills: ReadonlyArray<{
    readonly name: string;
    /** `query` skills only read the world; only they are allowed in checks. */
    readonly kind: "query" | "action";
    readonly params: ReadonlyArray<{
      readonly name: string;
      readonly optional: boolean;
      /** A zod schema, or anything with the same `safeParse`. */
      readonly schema: {
        safeParse(v: unknown): {
          success: boolean;
          error?: {
            issues: ReadonlyArray<
              { message: string; path: ReadonlyArray<PropertyKey> }
            >;
          };
        };
      };
    }>;
  }>;
}
