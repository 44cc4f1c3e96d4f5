/** Thrown when a channel's peer breaks the protocol: the peer is at fault. */
export class ChannelProtocolError extends Error {
  /** Creates the error naming the channel and what was wrong. */
  constructor(channel: string, message: string, options?: ErrorOptions) {
    super(`Cannot read from ${channel}: ${message}`, options);
    this.name = "ChannelProtocolError";
  }
}

/**
 * What a channel checks each arriving message with: a zod schema, or
 * anything with the same `safeParse`.
 */
export interface MessageSchema<T> {
  /** Returns `{ success: true, data }`, or `{ success: false, error }` listing each problem. */
  safeParse(value: unknown):
    | { success: true; data: T }
    | {
      success: false;
      error: {
        readonly issues: ReadonlyArray<{
          readonly message: string;
          readonly path: ReadonlyArray<PropertyKey>;
        }>;
      };
    };
}

/** Options of a {@linkcode LineChannel}. */
export interface LineChannelOptions<In> {
  /** Names the peer in errors and logs, e.g. `"sandbox host 4711"`. */
  name: string;
  /** Every message that arrives is checked against this schema. */
  schema: MessageSchema<In>;
  /** Longest line accepted, bytes; default 16 MiB. */
  maxLineBytes?: number;
}

const NEWLINE = 0x0a;
/** A line this long takes the thread about 0.25 ms to decode and parse (2.7 MB: 3 ms). */
const LONG_LINE_BYTES = 256 * 1024;
/** Resolves after the event loop's next turn (timers and I/O run first). */
const nextTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
const encoder = new TextEncoder();

/**
 * A framed local channel between two processes: one JSON object per line
 * (newline-delimited JSON; `JSON.stringify` never writes a raw newline),
 * every message checked with a schema on arrival. A line over the limit,
 * bytes that are not UTF-8 JSON, or a message the schema refuses end the
 * reading with a {@linkcode ChannelProtocolError}: the sender is at fault.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { LineChannel } from "./line_channel.ts";
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * const channel = new LineChannel(readable, writable, {
 *   name: "loopback",
 *   schema: z.object({ n: z.number() }),
 * });
 * // A TransformStream passes a line on only once it is read: send, then read.
 * const sent = channel.send({ n: 1 });
 * for await (const message of channel) {
 *   if (message.n !== 1) throw new Error("lost");
 *   break;
 * }
 * await sent;
 * await channel.close();
 * ```
 */
export class LineChannel<In, Out = unknown>
  implements AsyncIterable<In>, AsyncDisposable {
  /** Name of the peer, used in error messages. */
  readonly name: string;
  readonly #readable: ReadableStream<Uint8Array> | RawReader;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array> | null;
  readonly #rawWriter: RawWriter | null;
  readonly #schema: MessageSchema<In>;
  readonly #maxLineBytes: number;
  #writeChain: Promise<void> = Promise.resolve();
  #closed = false;

  /** Wraps a byte stream pair (a child's stdout/stdin, or a socket). */
  constructor(
    readable: ReadableStream<Uint8Array> | RawReader,
    writable: WritableStream<Uint8Array> | RawWriter,
    options: LineChannelOptions<In>,
  ) {
    this.name = options.name;
    this.#readable = readable;
    this.#rawWriter = "writeSync" in writable ? writable : null;
    this.#writer = "writeSync" in writable ? null : writable.getWriter();
    this.#schema = options.schema;
    this.#maxLineBytes = options.maxLineBytes ?? 16 * 1024 * 1024;
    // A peer that went away must not surface as an unhandled rejection.
    this.#writer?.closed.catch(() => {});
  }

  /** False once the channel was closed or a write failed. */
  get open(): boolean {
    return !this.#closed;
  }

  /**
   * Sends one message as one line. Writes are queued in order; a failed
   * write (the peer is gone) marks the channel closed and resolves `false`.
   */
  send(message: Out): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    const line = encoder.encode(`${JSON.stringify(message)}\n`);
    if (this.#rawWriter !== null) {
      // A whole line in one synchronous write: nothing to queue.
      try {
        let at = 0;
        while (at < line.length) {
          at += this.#rawWriter.writeSync(line.subarray(at));
        }
        return Promise.resolve(true);
      } catch {
        this.#closed = true;
        return Promise.resolve(false);
      }
    }
    const writer = this.#writer!;
    const next = this.#writeChain.then(() => writer.write(line));
    this.#writeChain = next.catch(() => {});
    return next.then(() => true, () => {
      this.#closed = true;
      return false;
    });
  }

  /** Reads messages until the peer closes its end; throws on a protocol error. */
  async *[Symbol.asyncIterator](): AsyncIterator<In> {
    const decoder = new TextDecoder("utf-8", { fatal: true });
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    for await (const chunk of chunksOf(this.#readable)) {
      let start = 0;
      for (;;) {
        const end = chunk.indexOf(NEWLINE, start);
        if (end < 0) break;
        const piece = chunk.subarray(start, end);
        let line: Uint8Array;
        if (pendingBytes === 0) line = piece;
        else {
          line = new Uint8Array(pendingBytes + piece.length);
          let at = 0;
          for (const part of pending) {
            line.set(part, at);
            at += part.length;
          }
          line.set(piece, at);
          pending = [];
          pendingBytes = 0;
        }
        start = end + 1;
        if (line.length > this.#maxLineBytes) this.#tooLong(line.length);
        if (line.length === 0) continue;
        yield this.#parse(decoder, line);
        // Lines a peer had buffered are read without a turn of the event
        // loop: after a long one (milliseconds to decode and parse), let
        // timers and other sockets (a stop) go first.
        if (line.length >= LONG_LINE_BYTES) await nextTurn();
      }
      if (start < chunk.length) {
        const rest = chunk.slice(start);
        pending.push(rest);
        pendingBytes += rest.length;
        if (pendingBytes > this.#maxLineBytes) this.#tooLong(pendingBytes);
      }
    }
  }

  /** Closes the writing side (the peer sees end of input). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writeChain;
    if (this.#rawWriter !== null) this.#rawWriter.close?.();
    else await this.#writer!.close().catch(() => {});
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #tooLong(bytes: number): never {
    throw new ChannelProtocolError(
      this.name,
      `a line of ${bytes} bytes is over the limit of ${this.#maxLineBytes}`,
    );
  }

  #parse(decoder: TextDecoder, line: Uint8Array): In {
    let value: unknown;
    try {
      value = JSON.parse(decoder.decode(line));
    } catch (error) {
      throw new ChannelProtocolError(
        this.name,
        `a line is not UTF-8 JSON (${(error as Error).message})`,
        { cause: error },
      );
    }
    const parsed = this.#schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ChannelProtocolError(
        this.name,
        `a message does not match the protocol${
          issue
            ? ` at "${issue.path.join(".") || "(root)"}": ${issue.message}`
            : ""
        }`,
      );
    }
    return parsed.data;
  }
}

/** A file-like reader (`Deno.stdin`): read straight into a buffer, no stream machinery. */
export interface RawReader {
  /** Reads into `buffer`; resolves the number of bytes read, or `null` at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
}

/** A file-like writer (`Deno.stdout`): a whole line per synchronous write. */
export interface RawWriter {
  /** Writes `data`; returns the number of bytes written. */
  writeSync(data: Uint8Array): number;
  /** Closes the writer, if it can be closed. */
  close?(): void;
}

async function* chunksOf(
  source: ReadableStream<Uint8Array> | RawReader,
): AsyncGenerator<Uint8Array> {
  if (!("read" in source) || source instanceof ReadableStream) {
    yield* source as ReadableStream<Uint8Array>;
    return;
  }
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await source.read(buffer);
    if (n === null) return;
    // The line splitter keeps views of the chunk: hand it a copy.
    yield buffer.slice(0, n);
  }
}
