/**
 * A value as an error message shows it: JSON (NaN and ±Infinity by name),
 * cut to `maxChars` with an ellipsis. Never throws, and never calls the
 * value's own `toString`.
 *
 * @example
 * ```ts
 * import { showValue } from "./show_value.ts";
 * if (showValue([1, NaN]) !== "[1,null]") throw new Error(showValue([1, NaN]));
 * if (showValue(NaN) !== "NaN") throw new Error(showValue(NaN));
 * if (showValue("x".repeat(100), 3) !== '"xx…') throw new Error("cut");
 * ```
 */
export function showValue(value: unknown, maxChars = 80): string {
  let text: string;
  if (typeof value === "number" && !Number.isFinite(value)) {
    text = String(value);
  } else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = Object.prototype.toString.call(value);
    }
  }
  return text.length > maxChars ? `${text.slice(0, maxChars)}…` : text;
}
