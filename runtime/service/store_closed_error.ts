import { ClosedError } from "../../skills-bridge/mod.ts";

/**
 * Thrown when one of the robot's state stores (program cache, replay state,
 * evidence journal) is used after it was closed: one named use-after-close
 * error for all of them, a {@linkcode ClosedError} like every other.
 */
export class StoreClosedError extends ClosedError {
  /** What was closed, e.g. `"the program cache"`. */
  readonly store: string;
  /** Creates the error naming the store and its database file. */
  constructor(store: string, path: string) {
    super(`${store} "${path}"`);
    this.name = "StoreClosedError";
    this.store = store;
  }
}
