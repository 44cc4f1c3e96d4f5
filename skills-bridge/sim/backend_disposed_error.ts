/** A backend was used after it was disposed (a logic error in the caller). */
export class BackendDisposedError extends Error {
  /** The kind of the disposed backend (`"sim"`, …). */
  readonly backend: string;

  /** Creates the error for `action` (e.g. `"run pick"`) on a disposed backend. */
  constructor(backend: string, action: string, options?: ErrorOptions) {
    super(
      `Cannot ${action}: the ${backend} backend has been disposed`,
      options,
    );
    this.name = "BackendDisposedError";
    this.backend = backend;
  }
}
