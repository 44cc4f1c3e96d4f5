import type { BenchModule, Target } from "./_bench_module.ts";
import { figureAt } from "./_figure_at.ts";

/** A target checked against a measured figure. */
export interface TargetResult extends Target {
  module: string;
  figure: string;
  value: number | null;
  pass: boolean;
}

/** Every module's figures, flattened into one object, and the targets checked. */
export interface Report {
  figures: Record<string, unknown>;
  targets: Record<string, TargetResult>;
}

/**
 * Merges the results of the modules that ran into one object (a module's
 * top-level keys stay as they are; a key that an earlier module already
 * used is prefixed with the module's name) and checks each row's target.
 */
export function collectReport(
  results: readonly { module: BenchModule; figures: object }[],
): Report {
  const figures: Record<string, unknown> = {};
  const targets: Record<string, TargetResult> = {};
  for (const { module, figures: own } of results) {
    for (const [key, value] of Object.entries(own)) {
      const name = key in figures
        ? `${module.name}${key[0]!.toUpperCase()}${key.slice(1)}`
        : key;
      figures[name] = value;
    }
    for (const row of module.rows ?? []) {
      if (row.target === undefined) continue;
      const { figure, op, limit } = row.target;
      const value = figureAt(own, figure);
      targets[figure] = {
        module: module.name,
        figure,
        op,
        limit,
        value,
        pass: value !== null && (op === "<=" ? value <= limit : value >= limit),
      };
    }
  }
  return { figures, targets };
}
