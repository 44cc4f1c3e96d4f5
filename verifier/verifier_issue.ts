/** One problem the verifier found. */
export interface VerifierIssue {
  /**
   * One of `syntax_error`, `too_large`, `too_complex`, `forbidden_syntax`,
   * `forbidden_identifier`, `forbidden_property`, `unknown_function`,
   * `bad_arity`, `bad_argument`.
   */
  code: string;
  /** What is wrong, naming the offending name or value. */
  message: string;
  /** 1-based line of the offending code. */
  line: number;
  /** 1-based column (UTF-16 code units) of the offending code. */
  column: number;
}

/** The verifier's verdict: `ok` exactly when `issues` is empty. */
export interface VerifierReport {
  /** `true` when the program is accepted. */
  ok: boolean;
  /** The first 100 issues found, in source order. */
  issues: VerifierIssue[];
  /** How many more issues were found and left out; absent when none were. */
  omitted?: number;
}
