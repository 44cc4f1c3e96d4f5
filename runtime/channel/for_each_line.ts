/**
 * Calls `onLine` for each non-empty line of a byte stream (a child's
 * stderr), each cut to `maxChars`; a line longer than the buffer is cut.
 * Resolves when the stream ends; never throws.
 *
 * @example
 * ```ts
 * import { forEachLine } from "./for_each_line.ts";
 * const lines: string[] = [];
 * await forEachLine(ReadableStream.from([new TextEncoder().encode("a\nb")]), (l) => lines.push(l));
 * if (lines.join() !== "a,b") throw new Error(lines.join());
 * ```
 */
export async function forEachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
  maxChars = 2000,
): Promise<void> {
  let buffer = "";
  const emit = (line: string) => {
    if (line.trim() !== "") onLine(line.slice(0, maxChars));
  };
  try {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        emit(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
      }
      if (buffer.length > 4 * maxChars) buffer = buffer.slice(-maxChars);
    }
  } catch {
    // The process is gone.
  }
  emit(buffer);
}
