import type { BenchModule, BenchRow } from "./_bench_module.ts";
import type { TargetResult } from "./_collect_report.ts";
import { figureAt } from "./_figure_at.ts";

/**
 * A plain-text table: one block per module, one line per row with its
 * median and p99 (or its single value), the target and a pass/fail mark.
 */
export function renderTable(
  results: readonly { module: BenchModule; figures: object }[],
  targets: Readonly<Record<string, TargetResult>>,
): string {
  const lines: string[][] = [];
  const heads: number[] = [];
  for (const { module, figures } of results) {
    heads.push(lines.length);
    lines.push([module.name, "median", "p99", "target", ""]);
    for (const row of module.rows ?? plainRows(figures)) {
      const show = (path: string | undefined) => {
        if (path === undefined) return "";
        const value = figureAt(figures, path);
        return value === null ? "n/a" : format(value, row.unit);
      };
      const target = row.target && targets[row.target.figure];
      const which = row.target === undefined
        ? ""
        : row.target.figure === row.p99
        ? "p99 "
        : row.target.figure === row.median
        ? "median "
        : "";
      lines.push([
        `  ${row.label}`,
        row.value === undefined ? show(row.median) : show(row.value),
        show(row.p99),
        row.target
          ? `${which}${row.target.op === "<=" ? "≤" : "≥"} ${row.target.limit}${
            row.unit === "" ? "" : ` ${row.unit}`
          }`
          : "",
        target ? (target.pass ? "✓ pass" : "✗ FAIL") : "",
      ]);
    }
  }
  const widths = [0, 1, 2, 3].map((col) =>
    Math.max(...lines.map((cells) => cells[col]!.length))
  );
  return lines.map((cells, i) => {
    const [label, median, p99, target, mark] = cells as [
      string,
      string,
      string,
      string,
      string,
    ];
    const text = [
      label.padEnd(widths[0]!),
      median.padStart(widths[1]!),
      p99.padStart(widths[2]!),
      target.padEnd(widths[3]!),
      mark,
    ].join("   ").trimEnd();
    return heads.includes(i) && i > 0 ? `\n${text}` : text;
  }).join("\n");
}

/** A row per numeric figure (nested objects give `a.b`), for modules without rows. */
function plainRows(figures: object, prefix = ""): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const [key, value] of Object.entries(figures)) {
    const path = `${prefix}${key}`;
    if (typeof value === "number") {
      rows.push({ label: path, unit: "", value: path });
    } else if (value !== null && typeof value === "object") {
      rows.push(...plainRows(value, `${path}.`));
    }
  }
  return rows;
}

function format(value: number, unit: string): string {
  const digits = Math.abs(value) >= 100 ? 1 : Math.abs(value) >= 10 ? 2 : 3;
  const text = Number.isInteger(value) ? String(value) : value.toFixed(digits);
  return unit === "" ? text : `${text} ${unit}`;
}
