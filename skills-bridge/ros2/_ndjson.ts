/**
 * Newline-delimited JSON over a byte stream, the core's end (the bridge's
 * end is `bridge/channel.js`): one JSON object per line, at most
 * `maxLineBytes` a line.
 * @module
 */

/** The longest line the core accepts from the bridge (1 MiB), as the bridge does. */
export const _MAX_LINE_BYTES = 1 << 20;

/**
 * Yields each JSON object read from `readable`; throws `SyntaxError` on a
 * line that is too long or not a JSON object (the peer broke the channel).
 */
export async function* _readNdjson(
  readable: ReadableStream<Uint8Array>,
  maxLineBytes: number = _MAX_LINE_BYTES,
): AsyncGenerator<Record<string, unknown>> {
  const decoder = new TextDecoder();
  let pending: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of readable) {
    let start = 0;
    while (true) {
      const end = chunk.indexOf(10, start);
      const piece = chunk.subarray(start, end === -1 ? undefined : end);
      size += piece.length;
      if (size > maxLineBytes) {
        throw new SyntaxError(
          `Cannot read a message: a line is longer than ${maxLineBytes} bytes`,
        );
      }
      if (end === -1) {
        if (piece.length > 0) pending.push(piece.slice());
        break;
      }
      pending.push(piece);
      const line = decoder.decode(_concat(pending, size));
      pending = [];
      size = 0;
      start = end + 1;
      if (line.trim() === "") continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        throw new SyntaxError(
          `Cannot read a message: a line is not JSON (${
            (error as Error).message
          })`,
        );
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new SyntaxError(
          "Cannot read a message: a line is not a JSON object",
        );
      }
      yield value as Record<string, unknown>;
    }
  }
}

/** One line: `message` as JSON and a newline; throws `RangeError` past `maxLineBytes`. */
export function _encodeNdjson(
  message: Record<string, unknown>,
  maxLineBytes: number = _MAX_LINE_BYTES,
): Uint8Array {
  const bytes = new TextEncoder().encode(`${JSON.stringify(message)}\n`);
  if (bytes.length - 1 > maxLineBytes) {
    throw new RangeError(
      `Cannot send a "${
        String(message.type ?? message.op)
      }" message: it is longer than ${maxLineBytes} bytes`,
    );
  }
  return bytes;
}

function _concat(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
