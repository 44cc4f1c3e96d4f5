/**
 * Hex SHA-256 of a string's UTF-8 bytes.
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./sha256_hex.ts";
 * const hex = await sha256Hex("");
 * if (!hex.startsWith("e3b0c442")) throw new Error(hex);
 * ```
 */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(text),
  );
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}
