/** Upper bounds (seconds) of the stop latency histogram's buckets. */
export const STOP_BUCKETS: readonly number[] = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
];

/** A gauge read when the metrics are scraped: `[labels, value]` rows. */
export type GaugeReader = () => Array<[Record<string, string>, number]>;

/**
 * The robot's metrics in the Prometheus text format: runs by outcome and
 * label, the emergency-stop latency histogram, and gauges read at scrape
 * time (MQTT, outbox, helper restarts) from whoever registers them.
 *
 * @example
 * ```ts
 * import { Metrics } from "./metrics.ts";
 * const metrics = new Metrics();
 * metrics.observeRun("failed", "estop");
 * metrics.observeStop(4);
 * if (!metrics.render().includes('cap_runs_total{outcome="failed",label="estop"} 1')) {
 *   throw new Error("the run is not counted");
 * }
 * ```
 */
export class Metrics {
  readonly #runs = new Map<string, number>();
  readonly #stopBuckets: number[] = STOP_BUCKETS.map(() => 0);
  #stopCount = 0;
  #stopSum = 0;
  readonly #gauges = new Map<
    string,
    { help: string; read: GaugeReader; type: "gauge" | "counter" }
  >();

  /** Counts one finished run. */
  observeRun(outcome: string, label: string | null): void {
    const key = `outcome="${_escape(outcome)}",label="${_escape(label ?? "")}"`;
    this.#runs.set(key, (this.#runs.get(key) ?? 0) + 1);
  }

  /** Records one emergency stop that took `ms` milliseconds to halt the guest. */
  observeStop(ms: number): void {
    const seconds = Math.max(0, ms) / 1000;
    this.#stopCount += 1;
    this.#stopSum += seconds;
    STOP_BUCKETS.forEach((bound, i) => {
      if (seconds <= bound) this.#stopBuckets[i]! += 1;
    });
  }

  /**
   * Feeds the metrics from a structured log record: run lines (with
   * `runId` and `outcome`) count runs, stop lines (with `stopMs`) the
   * stop latency.
   */
  observeLog(data: Record<string, unknown> | undefined): void {
    if (data === undefined) return;
    if (typeof data.runId === "string" && typeof data.outcome === "string") {
      this.observeRun(
        data.outcome,
        typeof data.label === "string" ? data.label : null,
      );
    }
    if (typeof data.stopMs === "number") this.observeStop(data.stopMs);
  }

  /**
   * Registers a metric `name` read at every scrape: a gauge, or with
   * `type: "counter"` a count kept elsewhere (restarts since start).
   */
  gauge(
    name: string,
    help: string,
    read: GaugeReader,
    type: "gauge" | "counter" = "gauge",
  ): void {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) {
      throw new TypeError(`Cannot register gauge: bad metric name "${name}"`);
    }
    this.#gauges.set(name, { help, read, type });
  }

  /** The metrics in the Prometheus text exposition format (version 0.0.4). */
  render(): string {
    const lines = [
      "# HELP cap_runs_total Finished runs by outcome and failure label.",
      "# TYPE cap_runs_total counter",
      ...[...this.#runs].map(([labels, n]) => `cap_runs_total{${labels}} ${n}`),
      "# HELP cap_stop_latency_seconds Time from an emergency stop to the halted guest.",
      "# TYPE cap_stop_latency_seconds histogram",
      ...STOP_BUCKETS.map((bound, i) =>
        `cap_stop_latency_seconds_bucket{le="${bound}"} ${this.#stopBuckets[i]}`
      ),
      `cap_stop_latency_seconds_bucket{le="+Inf"} ${this.#stopCount}`,
      `cap_stop_latency_seconds_sum ${this.#stopSum}`,
      `cap_stop_latency_seconds_count ${this.#stopCount}`,
    ];
    for (const [name, { help, read, type }] of this.#gauges) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      let rows: Array<[Record<string, string>, number]> = [];
      try {
        rows = read();
      } catch {
        // A source that cannot answer now is left out of this scrape.
      }
      for (const [labels, value] of rows) {
        const text = Object.entries(labels).map(([k, v]) =>
          `${k}="${_escape(v)}"`
        ).join(",");
        lines.push(`${name}${text === "" ? "" : `{${text}}`} ${value}`);
      }
    }
    return lines.join("\n") + "\n";
  }
}

function _escape(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll(
    "\n",
    "\\n",
  );
}
