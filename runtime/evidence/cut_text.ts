/**
 * `text` cut to at most `limit` UTF-16 units, saying how much was cut;
 * never splits a surrogate pair (half of one breaks `encodeURI`, which
 * grpc-js applies to every status message).
 *
 * @example
 * ```ts
 * import { cutText } from "./cut_text.ts";
 * if (cutText("abcdef", 3) !== "abc…[3 more characters cut]") throw new Error();
 * ```
 */
export function cutText(text: string, limit: number): string {
  if (text.length <= limit) return text;
  let end = limit;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…[${text.length - end} more characters cut]`;
}
