/**
 * Test helper: a real Mosquitto, two in-process robots (`arm-01`, `arm-02`)
 * publishing to it, and a fleet console over a given database.
 * @module
 */
import type { EdgeNode } from "../runtime/mod.ts";
import {
  type FleetConsole,
  type FleetConsoleOptions,
  startFleetConsole,
} from "../fleet/mod.ts";
import {
  commandFor,
  makeKey,
  signed,
  startNode,
  type TestKey,
} from "./_edge_fixture.ts";
import { type Mosquitto, startMosquitto } from "./_mosquitto.ts";

/** Two robots and a broker; dispose to stop them all. */
export interface FleetBench extends AsyncDisposable {
  broker: Mosquitto;
  key: TestKey;
  robots: Record<"arm-01" | "arm-02", EdgeNode>;
  /** Starts a console on `db` (same client id every time: a restart resumes the session), with more `options`. */
  startConsole(
    db: string,
    options?: Partial<FleetConsoleOptions>,
  ): Promise<FleetConsole>;
  /** Delivers and runs `source` on `robot` as `programId` (next version each time). */
  run(
    robot: "arm-01" | "arm-02",
    programId: string,
    source: string,
  ): Promise<import("../runtime/evidence/mod.ts").EvidenceRecord>;
}

/** Polls `probe` until it returns something other than undefined (at most `timeoutMs`). */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Starts the broker and the two robots. */
export async function startFleetBench(): Promise<FleetBench> {
  const broker = await startMosquitto();
  const key = await makeKey();
  const versions = new Map<string, number>();
  const clientId = `fleet-test-${crypto.randomUUID().slice(0, 8)}`;
  const robots = {} as Record<"arm-01" | "arm-02", EdgeNode>;
  const consoles: FleetConsole[] = [];
  const dispose = async () => {
    for (const c of consoles) await c.close().catch(() => {});
    for (const node of Object.values(robots)) await node.close();
    await broker[Symbol.asyncDispose]();
    await Deno.remove(key.dir, { recursive: true }).catch(() => {});
  };
  try {
    for (const robotId of ["arm-01", "arm-02"] as const) {
      robots[robotId] = await startNode(key, {
        stateDir: `${key.dir}/${robotId}`,
        config: {
          robotId,
          mqtt: {
            url: broker.url,
            heartbeatMs: 200,
            reconnectMinMs: 100,
            reconnectMaxMs: 400,
          },
        },
      });
      await robots[robotId].telemetry!.waitConnected();
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    broker,
    key,
    robots,
    async startConsole(db, options = {}) {
      const fleet = await startFleetConsole({
        broker: broker.url,
        listen: "127.0.0.1:0",
        db,
        clientId,
        connections: 2,
        ...options,
      });
      consoles.push(fleet);
      return fleet;
    },
    async run(robot, programId, source) {
      const version = (versions.get(programId) ?? 0) + 1;
      versions.set(programId, version);
      const node = robots[robot];
      const { evidence } = await node.service.deliver(
        await signed(key, { programId, version, source }),
        {
          run: true,
          command: await commandFor(key, robot, {
            command: "run",
            programId,
            version,
          }),
        },
      );
      if (evidence === null) throw new Error("Cannot run: no evidence");
      return evidence;
    },
    [Symbol.asyncDispose]: dispose,
  };
}
