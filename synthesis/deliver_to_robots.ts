import { HOST_PORT } from "../verifier/mod.ts";
import { type EvidenceRecord } from "../runtime/evidence/mod.ts";
import {
  EdgeClient,
  type EdgeClientTls,
  type WireReceipt,
} from "../runtime/grpc/mod.ts";
import { type Envelope, signCommand } from "../verifier/mod.ts";

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
  /**
   * With `run`: the operator key (a trust-store key with the `operator`
   * role) that signs a `run` command for each robot; without it the robots
   * refuse to run (PERMISSION_DENIED). `robotIds` maps a target to the
   * robot id the command names; a target not in it is asked for its id
   * (`GetWorld`) first.
   */
  operator?: {
    privateJwk: JsonWebKey;
    keyId?: string;
    robotIds?: Readonly<Record<string, string>>;
  };
  /** TLS (or mTLS) to the robots; default plaintext. */
  tls?: EdgeClientTls;
  /** Deadline of a delivery without `run`, milliseconds. Default: the client's (30 s). */
  timeoutMs?: number;
  /** Aborting stops the deliveries. */
  signal?: AbortSignal;
}

/**
 * Delivers a signed envelope over gRPC to every robot in `targets`
 * (`host:port`), concurrently, and with `run` runs it there (signing a
 * `run` command for each robot with `options.operator`). A robot that
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
      const command = run && options.operator !== undefined
        ? await _runCommand(client, target, text, options.operator, options)
        : undefined;
      const { receipt, evidence } = await client.deliver(text, {
        run,
        ...(command === undefined ? {} : { command }),
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

/** A `run` command for the program in `text`, for the robot at `target`, signed with the operator key. */
async function _runCommand(
  client: EdgeClient,
  target: string,
  text: string,
  operator: NonNullable<DeliverToRobotsOptions["operator"]>,
  options: DeliverToRobotsOptions,
): Promise<string> {
  const robot = operator.robotIds?.[target] ??
    (await client.getWorld(
      options.signal === undefined ? {} : { signal: options.signal },
    )).robotId;
  let programId: string | undefined;
  let version: number | undefined;
  try {
    const manifest = JSON.parse(
      new TextDecoder().decode(
        Uint8Array.fromBase64(JSON.parse(text).payload),
      ),
    );
    if (typeof manifest.programId === "string") programId = manifest.programId;
    if (typeof manifest.version === "number") version = manifest.version;
  } catch {
    // Not readable: the robot refuses the envelope before the command.
  }
  const envelope = await signCommand(
    {
      command: "run",
      robot,
      programId: programId ?? "unknown",
      ...(version === undefined ? {} : { version }),
    },
    operator.privateJwk,
    operator.keyId === undefined ? {} : { keyId: operator.keyId },
  );
  return JSON.stringify(envelope);
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
