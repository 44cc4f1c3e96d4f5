import type { Metrics } from "./metrics.ts";

/** A running metrics endpoint; dispose to stop it. */
export interface MetricsServer extends AsyncDisposable {
  /** `host:port` it listens on. */
  readonly address: string;
}

/**
 * Serves `GET /metrics` (Prometheus text) on `listen` (`host:port`; port 0
 * picks a free one). Anything else is 404.
 */
export function serveMetrics(
  listen: string,
  metrics: Metrics,
  options: { signal?: AbortSignal } = {},
): MetricsServer {
  const colon = listen.lastIndexOf(":");
  const hostname = listen.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = Number(listen.slice(colon + 1));
  const controller = new AbortController();
  const signal = options.signal
    ? AbortSignal.any([options.signal, controller.signal])
    : controller.signal;
  const server = Deno.serve({
    hostname,
    port,
    signal,
    onListen: () => {},
  }, (request) => {
    const url = new URL(request.url);
    if (request.method !== "GET" || url.pathname !== "/metrics") {
      return new Response("not found: GET /metrics\n", { status: 404 });
    }
    return new Response(metrics.render(), {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  });
  const addr = server.addr as Deno.NetAddr;
  return {
    address: `${
      addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname
    }:${addr.port}`,
    async [Symbol.asyncDispose]() {
      controller.abort();
      await server.finished;
    },
  };
}
