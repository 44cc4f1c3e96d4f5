// @ts-check
/**
 * Newline-delimited JSON over a byte stream: one JSON object per line, at
 * most `maxLineBytes` bytes a line. `JSON.stringify` never emits a raw
 * newline, so a line is always one whole message.
 * @module
 */

/** The longest line either side accepts (1 MiB). */
export const MAX_LINE_BYTES = 1 << 20;

/** A line that is not one JSON object, or is too long: the peer broke the channel. */
export class ChannelError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "ChannelError";
  }
}

/**
 * Calls `onMessage` with each JSON object read from `readable`, `onEnd` once
 * when it ends, `onError` once (and stops reading) on a line that is too long
 * or not a JSON object.
 *
 * @param {import("node:stream").Readable} readable
 * @param {{
 *   onMessage: (message: Record<string, unknown>) => void,
 *   onEnd: () => void,
 *   onError: (error: ChannelError) => void,
 *   maxLineBytes?: number,
 * }} handlers
 */
export function readMessages(readable, handlers) {
  const max = handlers.maxLineBytes ?? MAX_LINE_BYTES;
  /** @type {Buffer[]} */
  let parts = [];
  let size = 0;
  let failed = false;
  /** @param {ChannelError} error */
  const fail = (error) => {
    if (failed) return;
    failed = true;
    readable.removeAllListeners("data");
    handlers.onError(error);
  };
  readable.on("data", (/** @type {Buffer} */ chunk) => {
    let start = 0;
    while (!failed) {
      const end = chunk.indexOf(10, start);
      if (end === -1) {
        const rest = chunk.subarray(start);
        size += rest.length;
        if (size > max) {
          return fail(
            new ChannelError(
              `Cannot read a message: a line is longer than ${max} bytes`,
            ),
          );
        }
        if (rest.length > 0) parts.push(rest);
        return;
      }
      const piece = chunk.subarray(start, end);
      size += piece.length;
      if (size > max) {
        return fail(
          new ChannelError(
            `Cannot read a message: a line is longer than ${max} bytes`,
          ),
        );
      }
      parts.push(piece);
      const line = Buffer.concat(parts).toString("utf8");
      parts = [];
      size = 0;
      start = end + 1;
      if (line.trim() === "") continue;
      /** @type {unknown} */
      let value;
      try {
        value = JSON.parse(line);
      } catch (error) {
        return fail(
          new ChannelError(
            `Cannot read a message: a line is not JSON (${
              /** @type {Error} */ (error).message
            })`,
          ),
        );
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return fail(
          new ChannelError(
            "Cannot read a message: a line is not a JSON object",
          ),
        );
      }
      handlers.onMessage(/** @type {Record<string, unknown>} */ (value));
    }
  });
  let ended = false;
  const end = () => {
    if (failed || ended) return;
    ended = true;
    handlers.onEnd();
  };
  readable.on("end", end);
  readable.on("close", end);
}

/**
 * Writes `message` as one line; refuses (throws `ChannelError`) a message
 * longer than `maxLineBytes` so the peer never has to.
 *
 * @param {import("node:stream").Writable} writable
 * @param {Record<string, unknown>} message
 * @param {number} [maxLineBytes]
 * @returns {boolean} false when the stream is already closed
 */
export function writeMessage(writable, message, maxLineBytes = MAX_LINE_BYTES) {
  const line = JSON.stringify(message);
  if (Buffer.byteLength(line) > maxLineBytes) {
    throw new ChannelError(
      `Cannot send a "${
        String(message.type)
      }" message: it is longer than ${maxLineBytes} bytes`,
    );
  }
  if (writable.destroyed || writable.writableEnded) return false;
  writable.write(`${line}\n`);
  return true;
}
