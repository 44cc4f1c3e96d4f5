import { type EvidenceRecord } from "../runtime/evidence/mod.ts";
import {
  EdgeClient,
  type EdgeClientTls,
  type WireReceipt,
} from "../runtime/grpc/mod.ts";
import type { Envelope } from "../verifier/mod.ts";

/** What the delivery to one robot ended with. */
export interface RobotDelivery {
  /** The robot service, `host:port`. */
  target: string;
  /** Accepted, and with `run`, the run succeeded. */
  ok: boolean;
  /** One line: the receipt, the run's outcome, or why it could not be delivered. */
  message: string;
  /** The robot's receipt, or `null` when it did not answer. */
  receipt: WireReceipt | null;
  /** With `run`: the evidence record of the run, or `null`. */
  evidence: EvidenceRecord | null;
}

/** Options for {@linkcode deliverToRobots}. */
export interface DeliverToRobotsOptions {
  /** Run the program at once on every robot that accepts it. */
  run?: boolean;
  /** TLS (or mTLS) to the robots; default plaintext. */
  tls?: EdgeClientTls;
  /** Deadline of a delivery without `run`, milliseconds. Default: the client's (30 s). */
  timeoutMs?: number;
  /** Aborting stops the deliveries. */
  signal?: AbortSignal;
}

const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/;

/**
 * Delivers a signed envelope over gRPC to every robot in `targets`
 * (`host:port`), concurrently, and with `run` runs it there. A robot that
 * refuses the program or cannot be reached does not stop the others: its
 * result says why. Throws a `TypeError` before contacting any robot when a
 * target is not `host:port`.
 *
 * @example
 * ```ts ignore
 * const results = await deliverToRobots(envelope, ["10.0.0.7:50051"], { run: true });
 * for (const r of results) console.log(r.target, r.message);
 * ```
 */
export async function deliverToRobots(
  envelope: Envelope | string,
  targets: readonly string[],
  options: DeliverToRobotsOptions = {},
): Promise<RobotDelivery[]> {
  for (const target of targets) {
    if (!HOST_PORT.test(target)) {
      throw new TypeError(
        `Cannot deliver to "${target}": expected host:port, e.g. "127.0.0.1:50051"`,
      );
    }
  }
  const text = typeof envelope === "string"
    ? envelope
    : JSON.stringify(envelope);
  const run = options.run === true;
  return await Promise.all(targets.map(async (target) => {
    using client = new EdgeClient(target, {
      ...(options.tls === undefined ? {} : { tls: options.tls }),
    });
    try {
      const { receipt, evidence } = await client.deliver(text, {
        run,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(options.timeoutMs === undefined || run
          ? {}
          : { timeoutMs: options.timeoutMs }),
      });
      return _result(target, receipt, evidence, run);
    } catch (error) {
      return {
        target,
        ok: false,
        message: `Cannot deliver to ${target}: ${
          error instanceof Error ? error.message : String(error)
        }`,
        receipt: null,
        evidence: null,
      };
    }
  }));
}

function _result(
  target: string,
  receipt: WireReceipt,
  evidence: EvidenceRecord | null,
  run: boolean,
): RobotDelivery {
  if (!receipt.accepted) {
    return {
      target,
      ok: false,
      message: `refused${
        receipt.programId === ""
          ? ""
          : ` "${receipt.programId}" v${receipt.version}`
      }: ${
        [receipt.reason, receipt.message].filter((s) => s !== "").join(": ")
      }`,
      receipt,
      evidence,
    };
  }
  const accepted = `accepted "${receipt.programId}" v${receipt.version}${
    receipt.idempotent ? " (already had it)" : ""
  } signed by key "${receipt.keyId}"`;
  if (!run) return { target, ok: true, message: accepted, receipt, evidence };
  if (evidence === null) {
    return {
      target,
      ok: false,
      message: `${accepted}, but the robot returned no evidence of the run`,
      receipt,
      evidence,
    };
  }
  const failure = evidence.failure === null
    ? ""
    : ` (${evidence.failure.label}: ${evidence.failure.message})`;
  return {
    target,
    ok: evidence.outcome === "succeeded",
    message: `${accepted}; run ${evidence.runId} ${evidence.outcome}${failure}`,
    receipt,
    evidence,
  };
}
