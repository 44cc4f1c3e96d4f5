/**
 * Small assertions over `node:assert/strict` (JSR is not reachable here, so
 * no `@std/assert`), shaped like `@std/assert` for the tests of this folder.
 * @module
 */
import { AssertionError, deepStrictEqual, ok } from "node:assert/strict";

/** Fails unless `actual` deep-equals `expected`. */
export function assertEquals<T>(
  actual: T,
  expected: T,
  message?: string,
): void {
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
export function assertStringIncludes(text: string, part: string): void {
  if (!text.includes(part)) {
    throw new AssertionError({
      message: `Expected ${JSON.stringify(text)} to include ${
        JSON.stringify(part)
      }`,
      actual: text,
      expected: part,
    });
  }
}

// deno-lint-ignore no-explicit-any
type Class<E> = new (...args: any[]) => E;

/** Fails unless `value` is an instance of `type`. */
export function assertInstanceOf<E>(
  value: unknown,
  type: Class<E>,
): asserts value is E {
  if (!(value instanceof type)) {
    throw new AssertionError({
      message: `Expected an instance of ${type.name}, got ${String(value)}`,
    });
  }
}

/** Fails unless `fn` throws an instance of `type`; returns the error. */
export function assertThrows<E>(fn: () => unknown, type: Class<E>): E {
  try {
    fn();
  } catch (error) {
    assertInstanceOf(error, type);
    return error;
  }
  throw new AssertionError({ message: `Expected ${type.name} to be thrown` });
}

/** Fails unless `fn` rejects with an instance of `type`; returns the error. */
export async function assertRejects<E>(
  fn: () => PromiseLike<unknown>,
  type: Class<E>,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    assertInstanceOf(error, type);
    return error;
  }
  throw new AssertionError({ message: `Expected ${type.name} to be rejected` });
}
