/**
 * The fleet console: evidence ingest rate (Mosquitto → shared subscription
 * → store, PUBACK after the write) into SQLite and into PostgreSQL, and
 * `GET /api/runs` latency with 100 000 stored runs.
 *
 * Ingest is timed on a backlog: records are published while the console is
 * away (its persistent session queues them at the broker), then the console
 * starts and the clock runs until every record is stored, so the figure is
 * the console's rate, not the publisher's.
 *
 * `deno run -A bench/fleet_bench.ts` prints the result as JSON.
 * @module
 */
import mqtt from "mqtt";
import type { EvidenceRecord } from "../runtime/evidence/mod.ts";
import {
  createFleetApp,
  FleetIngest,
  type FleetStore,
  openPostgresStore,
  openSqliteStore,
} from "../fleet/mod.ts";
import { startMosquitto } from "../test/_mosquitto.ts";
import { startPostgres } from "../test/_postgres.ts";
import { summarize } from "./_summarize.ts";

/** Options of {@linkcode benchFleet}. */
export interface BenchFleetOptions {
  /** Records ingested per store. Default 20 000. */
  records?: number;
  /** Runs stored for the query bench. Default 100 000. */
  storedRuns?: number;
  /** Requests timed per query shape. Default 200. */
  requests?: number;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** Result of {@linkcode benchFleet}. */
export interface BenchFleetResult {
  ingestSqlitePerS: number;
  ingestPostgresPerS: number;
  /** Records per write transaction during the ingest (connections waiting on one write). */
  ingestSqliteBatch: number;
  ingestPostgresBatch: number;
  /** `GET /api/runs` (mixed filters, limit 100) over SQLite: median and p99, ms. */
  apiRunsP50Ms: number;
  apiRunsP99Ms: number;
  /** The same over PostgreSQL. */
  apiRunsPgP50Ms: number;
  apiRunsPgP99Ms: number;
  recordBytes: number;
  storedRuns: number;
}

const _ROBOTS = 10;
const _LABELS = ["skill_failed", "precondition_violated", "timeout", "estop"];

function _record(i: number, prefix: string): EvidenceRecord {
  const failed = i % 4 === 0;
  const startedAt = new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString();
  return {
    runId: `${prefix}-${i}`,
    robotId: `arm-${String(i % _ROBOTS).padStart(2, "0")}`,
    startedAt,
    endedAt: startedAt,
    program: {
      sha256: "ab".repeat(32),
      source:
        'const cubes = detect("block");\nfor (const c of cubes) {\n  pick(c.id);\n  place("blue_bowl");\n}',
      instruction: "put every block in the blue bowl",
      programId: `program-${i % 20}`,
      version: 1 + (i % 5),
      keyId: "k1",
    },
    verifier: { ok: true, issues: [] },
    worldBefore: {
      objects: [
        {
          id: "red_block",
          kind: "block",
          color: "red",
          x: 0.1,
          y: -0.5,
          z: 0,
          on: null,
        },
        {
          id: "blue_bowl",
          kind: "bowl",
          color: "blue",
          x: -0.1,
          y: -0.4,
          z: 0,
          on: null,
        },
      ],
      holding: null,
    },
    worldAfter: null,
    calls: [
      {
        seq: 1,
        skill: "detect",
        args: ["block"],
        ok: true,
        result: [],
        startMs: 0,
        durationMs: 1,
      },
      {
        seq: 2,
        skill: "pick",
        args: ["red_block"],
        ok: !failed,
        ...(failed
          ? { error: { code: "grasp_failed", message: "slipped" } }
          : { result: null }),
        startMs: 1,
        durationMs: 3,
      },
    ],
    checks: [],
    outcome: failed ? "failed" : "succeeded",
    failure: failed
      ? {
        label: _LABELS[i % _LABELS.length] as "skill_failed",
        message: "x",
        line: 3,
      }
      : null,
    resources: {
      wallMs: 5,
      skillCalls: 2,
      memoryLimitBytes: 1 << 25,
      timeoutMs: 30_000,
    },
  };
}

async function _ingestRate(
  brokerUrl: string,
  store: FleetStore,
  n: number,
  tag: string,
  log: (line: string) => void,
): Promise<{ perS: number; batch: number }> {
  const clientId = `bench-${tag}-${crypto.randomUUID().slice(0, 6)}`;
  const make = () =>
    new FleetIngest({
      url: brokerUrl,
      store,
      clientId,
      group: `bench-${tag}`,
    });
  // Create the persistent sessions, then go away.
  let ingest = make();
  await ingest.start();
  await ingest.close();
  const publisher = await mqtt.connectAsync(brokerUrl, { protocolVersion: 5 });
  try {
    const window = 500;
    for (let i = 0; i < n; i += window) {
      await Promise.all(
        Array.from({ length: Math.min(window, n - i) }, (_, k) => {
          const r = _record(i + k, tag);
          return publisher.publishAsync(
            `cap/v1/robots/${r.robotId}/evidence`,
            JSON.stringify(r),
            { qos: 1 },
          );
        }),
      );
    }
  } finally {
    await publisher.endAsync();
  }
  log(`fleet: ${n} records queued for ${tag}; ingesting`);
  ingest = make();
  const started = performance.now();
  await ingest.start();
  const deadline = Date.now() + 300_000;
  while (ingest.stats().stored + ingest.stats().duplicates < n) {
    if (Date.now() > deadline) {
      throw new Error(
        `Cannot bench ingest into ${tag}: ${ingest.stats().stored} of ${n} stored after 300 s`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const seconds = (performance.now() - started) / 1000;
  const { stored, batches } = ingest.stats();
  await ingest.close();
  return {
    perS: Math.round(n / seconds),
    batch: Math.round(stored / Math.max(1, batches) * 10) / 10,
  };
}

async function _apiLatency(
  store: FleetStore,
  stored: number,
  requests: number,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<{ p50: number; p99: number }> {
  const batch = 1000;
  for (let i = 0; i < stored; i += batch) {
    signal?.throwIfAborted();
    await store.putRuns(
      Array.from(
        { length: Math.min(batch, stored - i) },
        (_, k) => _record(i + k, "api"),
      ),
    );
  }
  log(`fleet: ${stored} runs stored in ${store.kind}; timing GET /api/runs`);
  const shutdown = new AbortController();
  const fleetApp = createFleetApp({
    store,
    stopper: { stop: () => Promise.resolve() },
    signal: shutdown.signal,
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    fleetApp.fetch,
  );
  const base = `http://127.0.0.1:${server.addr.port}/api/runs`;
  try {
    const first = await fetch(`${base}?limit=100`);
    const cursor = first.headers.get("x-next-cursor") ?? "";
    await first.body?.cancel();
    const shapes = [
      "?limit=100",
      "?robot=arm-03&limit=100",
      "?label=skill_failed&limit=100",
      "?program=program-7&limit=100",
      "?outcome=failed&robot=arm-05&limit=100",
      `?limit=100&cursor=${cursor}`,
      "?since=2026-11-02&limit=100",
    ];
    const samples: number[] = [];
    for (let i = 0; i < requests * shapes.length; i++) {
      signal?.throwIfAborted();
      const t0 = performance.now();
      const res = await fetch(base + shapes[i % shapes.length]);
      await res.arrayBuffer();
      samples.push(performance.now() - t0);
      if (!res.ok) throw new Error(`Cannot bench GET /api/runs: ${res.status}`);
    }
    const s = summarize(samples);
    return { p50: s.median, p99: s.p99 };
  } finally {
    shutdown.abort();
    await server.shutdown();
  }
}

/** Measures ingest into both stores and query latency with many stored runs. */
export async function benchFleet(
  options: BenchFleetOptions = {},
): Promise<BenchFleetResult> {
  const n = options.records ?? 20_000;
  const stored = options.storedRuns ?? 100_000;
  const requests = options.requests ?? 200;
  const log = options.log ?? (() => {});
  const dir = await Deno.makeTempDir({ prefix: "cap-fleet-bench-" });
  try {
    await using broker = await startMosquitto();
    await using pg = await startPostgres();
    let sqliteIngest;
    {
      await using store = await openSqliteStore(`${dir}/ingest.db`);
      sqliteIngest = await _ingestRate(broker.url, store, n, "sqlite", log);
    }
    let pgIngest;
    {
      await using store = await openPostgresStore(await pg.newDatabase());
      pgIngest = await _ingestRate(broker.url, store, n, "pg", log);
    }
    let sqliteApi;
    {
      await using store = await openSqliteStore(`${dir}/api.db`);
      sqliteApi = await _apiLatency(
        store,
        stored,
        requests,
        log,
        options.signal,
      );
    }
    let pgApi;
    {
      await using store = await openPostgresStore(await pg.newDatabase());
      pgApi = await _apiLatency(store, stored, requests, log, options.signal);
    }
    return {
      ingestSqlitePerS: sqliteIngest.perS,
      ingestPostgresPerS: pgIngest.perS,
      ingestSqliteBatch: sqliteIngest.batch,
      ingestPostgresBatch: pgIngest.batch,
      apiRunsP50Ms: sqliteApi.p50,
      apiRunsP99Ms: sqliteApi.p99,
      apiRunsPgP50Ms: pgApi.p50,
      apiRunsPgP99Ms: pgApi.p99,
      recordBytes: JSON.stringify(_record(0, "size")).length,
      storedRuns: stored,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  console.log(
    JSON.stringify(await benchFleet({ log: (l) => console.error(l) }), null, 2),
  );
}
