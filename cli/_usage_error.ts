/** Bad command-line usage: the CLI prints it and exits 2. */
export class UsageError extends Error {
  /** Creates the error with a message saying what was wrong. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
