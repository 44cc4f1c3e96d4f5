/** A blocking byte source: `Deno.stdin` in a worker. */
export interface _SyncReader {
  /** Reads into `buffer`; returns the number of bytes read, or `null` at the end. */
  readSync(buffer: Uint8Array): number | null;
}

const NEWLINE = 0x0a;

/**
 * Splits a blocking byte source into lines (newline-delimited JSON), for a
 * thread that waits on the source itself rather than on an event loop: the
 * sandbox worker reading the core's lines from the host's stdin. Empty lines
 * are skipped; a line over the limit, or input that ends inside a line,
 * throws naming the sizes.
 */
export class _SyncLineReader {
  readonly #source: _SyncReader;
  readonly #maxLineBytes: number;
  readonly #chunk = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  /** The start of a line that did not fit the chunk. */
  #parts: Uint8Array[] = [];
  #partBytes = 0;

  /** Reads from `source`; lines longer than `maxLineBytes` are refused. */
  constructor(source: _SyncReader, maxLineBytes: number) {
    this.#source = source;
    this.#maxLineBytes = maxLineBytes;
  }

  /**
   * The next line's bytes without its newline, or `null` at the end of the
   * input. Blocks until a whole line is there. The bytes may be a view of
   * the reader's buffer: use them before the next call.
   */
  next(): Uint8Array | null {
    for (;;) {
      const at = this.#chunk.subarray(this.#start, this.#end).indexOf(NEWLINE);
      if (at >= 0) {
        const piece = this.#chunk.subarray(this.#start, this.#start + at);
        this.#start += at + 1;
        const line = this.#partBytes === 0 ? piece : this.#join(piece);
        if (line.length > this.#maxLineBytes) this.#tooLong(line.length);
        if (line.length > 0) return line;
        continue;
      }
      if (this.#start < this.#end) {
        this.#parts.push(this.#chunk.slice(this.#start, this.#end));
        this.#partBytes += this.#end - this.#start;
        if (this.#partBytes > this.#maxLineBytes) {
          this.#tooLong(this.#partBytes);
        }
      }
      this.#start = 0;
      this.#end = 0;
      const n = this.#source.readSync(this.#chunk);
      if (n === null) {
        if (this.#partBytes > 0) {
          throw new Error(
            `the input ended inside a line, after ${this.#partBytes} bytes`,
          );
        }
        return null;
      }
      this.#end = n;
    }
  }

  #join(last: Uint8Array): Uint8Array {
    const line = new Uint8Array(this.#partBytes + last.length);
    let at = 0;
    for (const part of this.#parts) {
      line.set(part, at);
      at += part.length;
    }
    line.set(last, at);
    this.#parts = [];
    this.#partBytes = 0;
    return line;
  }

  #tooLong(bytes: number): never {
    throw new Error(
      `a line of ${bytes} bytes is over the limit of ${this.#maxLineBytes}`,
    );
  }
}
