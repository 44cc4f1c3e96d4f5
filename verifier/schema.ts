/**
 * A runtime schema for values of type `T`: the shape the verifier's exported
 * schemas (`Manifest`, `TrustStore`, `OperatorCommand`, …) promise, whatever
 * validation library implements them.
 */
export interface Schema<T> {
  /** Returns the value as `T`, or throws an `Error` saying what is wrong. */
  parse(value: unknown): T;
  /** Returns `{ success: true, data }`, or `{ success: false, error }` saying what is wrong. */
  safeParse(value: unknown): SchemaResult<T>;
}

/** The outcome of {@linkcode Schema.safeParse}. */
export type SchemaResult<T> =
  | { success: true; data: T }
  | { success: false; error: Error };
