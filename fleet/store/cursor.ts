/** The opaque cursor after the run (`startedMs`, `runId`). */
export function encodeCursor(startedMs: number, runId: string): string {
  return btoa(JSON.stringify([startedMs, runId])).replaceAll("+", "-")
    .replaceAll("/", "_").replaceAll("=", "");
}

/** Reads a cursor of {@linkcode encodeCursor}; throws a `TypeError` when it is not one. */
export function decodeCursor(cursor: string): [number, string] {
  try {
    const padded = cursor.replaceAll("-", "+").replaceAll("_", "/");
    const value = JSON.parse(atob(padded)) as unknown;
    if (
      Array.isArray(value) && value.length === 2 &&
      Number.isSafeInteger(value[0]) && typeof value[1] === "string"
    ) return [value[0], value[1]];
  } catch {
    // not base64 JSON
  }
  throw new TypeError(
    `Cannot read the cursor: it is not one this console made: "${cursor}"`,
  );
}
