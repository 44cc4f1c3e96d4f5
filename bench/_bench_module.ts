/** What every bench module gets from `bench/bench.ts`. */
export interface BenchContext {
  /** A short run (a smoke test of the bench itself), not for the numbers. */
  quick: boolean;
  /** Progress lines; they go to stderr, never to stdout. */
  log: (line: string) => void;
  /** Aborted on Ctrl-C: end between iterations and clean up. */
  signal: AbortSignal;
}

/** A bound a figure must keep. */
export interface Target {
  op: "<=" | ">=";
  limit: number;
}

/**
 * One line of the table. Figures are named by their path in the module's
 * result (`"stopP99Ms.tightLoop"`); a row shows either a median and a p99,
 * or a single value.
 */
export interface BenchRow {
  label: string;
  /** `"ms"`, `"/s"` or `""`. */
  unit: string;
  median?: string;
  p99?: string;
  value?: string;
  /** The bound on `target.figure` (one of the row's figures). */
  target?: Target & { figure: string };
}

/**
 * A bench module: a name, a function that measures and returns named
 * figures (numbers, or objects of numbers), and how to show them.
 */
export interface BenchModule {
  name: string;
  run: (context: BenchContext) => Promise<object>;
  /** Table rows; without them, every numeric figure gets a plain row. */
  rows?: readonly BenchRow[];
}
