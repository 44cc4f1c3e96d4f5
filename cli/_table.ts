import { _clip } from "./_run_view.ts";

/**
 * A plain-text table: each column as wide as its longest cell (up to
 * `maxWidth`, then cut with "…"), two spaces between columns, the last
 * column never padded.
 */
export function _table(
  headers: string[],
  rows: string[][],
  maxWidth = 60,
): string {
  const cells = [headers, ...rows].map((row) =>
    row.map((cell) => _clip(cell.replaceAll("\n", " "), maxWidth))
  );
  const widths = headers.map((_, i) =>
    Math.max(...cells.map((row) => [...(row[i] ?? "")].length))
  );
  return cells.map((row) =>
    row.map((cell, i) =>
      i === row.length - 1
        ? cell
        : cell + " ".repeat(widths[i]! - [...cell].length)
    ).join("  ").trimEnd()
  ).join("\n");
}
