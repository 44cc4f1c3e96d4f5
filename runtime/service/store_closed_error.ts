/**
 * Thrown when one of the robot's state stores (program cache, replay state,
 * evidence journal) is used after it was closed: one named use-after-close
 * error for all of them.
 */
export class StoreClosedError extends Error {
  /** What was closed, e.g. `"the program cache"`. */
  readonly store: string;
  /** Creates the error naming the store and its database file. */
  constructor(store: string, path: string) {
    super(`Cannot use ${store} "${path}": it was closed`);
    this.name = "StoreClosedError";
    this.store = store;
  }
}
