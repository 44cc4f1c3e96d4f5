/**
 * Metrics: the robot's counters and gauges in the Prometheus text format,
 * and the optional endpoint that serves them (`metrics.listen`).
 * @module
 */
export { type GaugeReader, Metrics, STOP_BUCKETS } from "./metrics.ts";
export { type MetricsServer, serveMetrics } from "./serve_metrics.ts";
