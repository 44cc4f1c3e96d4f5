/** Options for {@linkcode delay}. */
export interface DelayOptions {
  /** Aborting ends the wait at once: the timer is cleared and the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Resolves after `ms` milliseconds, or rejects with `signal.reason` as soon
 * as `signal` aborts (the timer is cleared, the listener removed: nothing is
 * left behind). The semantics of `@std/async`'s `delay`, which cannot be
 * loaded here, with one addition: a wait of 0 ms or less resolves without a
 * timer (a simulator at `timeScale: 0` never yields to the event loop).
 *
 * @example
 * ```ts
 * import { delay } from "./delay.ts";
 * const controller = new AbortController();
 * const waiting = delay(60_000, { signal: controller.signal });
 * controller.abort(new Error("stopped"));
 * const outcome = await waiting.then(() => "waited", (e: Error) => e.message);
 * if (outcome !== "stopped") throw new Error(outcome);
 * ```
 */
export function delay(ms: number, options: DelayOptions = {}): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
