import { assertEquals, assertStringIncludes } from "../../test/_assert.ts";
import { Metrics, serveMetrics } from "./mod.ts";

Deno.test("metrics: runs by outcome and label, stop latency, gauges, over HTTP", async () => {
  const metrics = new Metrics();
  metrics.observeLog({ runId: "r1", outcome: "succeeded", label: null });
  metrics.observeLog({ runId: "r2", outcome: "stopped", label: "estop" });
  metrics.observeLog({ runId: "r3", outcome: "stopped", label: "estop" });
  metrics.observeLog({ runId: "r3", stopMs: 3 });
  metrics.gauge(
    "cap_outbox_depth",
    "Evidence records waiting.",
    () => [[{}, 7]],
  );
  await using server = serveMetrics("127.0.0.1:0", metrics);
  const response = await fetch(`http://${server.address}/metrics`);
  assertEquals(response.status, 200);
  assertStringIncludes(
    response.headers.get("content-type") ?? "",
    "text/plain",
  );
  const text = await response.text();
  assertStringIncludes(text, 'cap_runs_total{outcome="succeeded",label=""} 1');
  assertStringIncludes(
    text,
    'cap_runs_total{outcome="stopped",label="estop"} 2',
  );
  assertStringIncludes(text, 'cap_stop_latency_seconds_bucket{le="0.005"} 1');
  assertStringIncludes(text, 'cap_stop_latency_seconds_bucket{le="0.001"} 0');
  assertStringIncludes(text, "cap_stop_latency_seconds_count 1");
  assertStringIncludes(text, "cap_outbox_depth 7");
  const missing = await fetch(`http://${server.address}/`);
  assertEquals(missing.status, 404);
  await missing.body?.cancel();
});
