/**
 * Assertions for the project's tests, over `node:assert/strict` (JSR, and
 * so `@std/assert`, is not reachable from these machines). The message is
 * optional, as in `@std/assert`.
 * @module
 */
import {
  AssertionError,
  deepStrictEqual,
  ok,
  rejects,
  throws,
} from "node:assert/strict";

/** Fails unless `actual` deep-equals `expected`. */
export function assertEquals<T>(
  actual: unknown,
  expected: T,
  message?: string,
): asserts actual is T {
  if (message === undefined) deepStrictEqual(actual, expected);
  else deepStrictEqual(actual, expected, message);
}

/** Fails unless `condition` is truthy. */
export function assert(
  condition: unknown,
  message?: string,
): asserts condition {
  if (message === undefined) ok(condition);
  else ok(condition, message);
}

/** Fails unless `text` contains `part`. */
export function assertStringIncludes(
  text: string | undefined | null,
  part: string,
  message?: string,
): void {
  if (typeof text !== "string" || !text.includes(part)) {
    throw new AssertionError({
      message: message ??
        `Expected ${JSON.stringify(text)} to include ${JSON.stringify(part)}`,
      actual: text,
      expected: part,
    });
  }
}

// deno-lint-ignore no-explicit-any
type Class<E> = new (...args: any[]) => E;

/** Fails unless `fn` rejects with an instance of `errorClass`; returns the error. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  errorClass: Class<E>,
): Promise<E> {
  let caught: unknown;
  await rejects(async () => {
    try {
      await fn();
    } catch (error) {
      caught = error;
      throw error;
    }
  });
  return _instanceOf(caught, errorClass);
}

/** Fails unless `fn` throws an instance of `errorClass`; returns the error. */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  errorClass: Class<E>,
): E {
  let caught: unknown;
  throws(() => {
    try {
      fn();
    } catch (error) {
      caught = error;
      throw error;
    }
  });
  return _instanceOf(caught, errorClass);
}

/** `caught` when it is an instance of `errorClass`; an assertion error otherwise. */
function _instanceOf<E extends Error>(
  caught: unknown,
  errorClass: Class<E>,
): E {
  if (!(caught instanceof errorClass)) {
    throw new AssertionError({
      message: `Expected ${errorClass.name}, got ${String(caught)}`,
    });
  }
  return caught;
}
