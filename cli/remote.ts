import {
  EdgeCallError,
  EdgeClient,
  type EdgeClientTls,
} from "../runtime/grpc/mod.ts";
import { _parseFlags } from "./_args.ts";
import { _readText } from "./_read_text.ts";
import { _renderEvidence } from "./run.ts";
import { UsageError } from "./_usage_error.ts";

const TLS_HELP = `TLS options:
  --ca <pem>     CA that signed the robot's certificate (enables TLS)
  --cert <pem>   client certificate (mutual TLS)
  --key <pem>    client key (mutual TLS)
  --server-name  expected name in the robot's certificate`;

async function connect(flags: Record<string, unknown>): Promise<EdgeClient> {
  if (typeof flags.to !== "string") {
    throw new UsageError("needs --to <host:port>");
  }
  let tls: EdgeClientTls | undefined;
  if (typeof flags.ca === "string") {
    tls = {
      ca: await _readText(flags.ca, "CA certificate"),
      ...(typeof flags.cert === "string"
        ? { cert: await _readText(flags.cert, "client certificate") }
        : {}),
      ...(typeof flags.key === "string"
        ? { key: await _readText(flags.key, "client key") }
        : {}),
      ...(typeof flags["server-name"] === "string"
        ? { serverName: flags["server-name"] }
        : {}),
    };
  }
  try {
    return new EdgeClient(flags.to, tls ? { tls } : {});
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

const TLS_FLAGS = ["ca", "cert", "key", "server-name"];

const SEND_HELP =
  `Usage: deno task cap send <envelope.json> --to <host:port> [--run] [--json]

Delivers a signed program to a robot. With --run the robot runs it at once;
with --run --json only the evidence record is printed.
Exit: 0 accepted (and, with --run, succeeded), 1 refused or failed, 2 bad usage.

${TLS_HELP}`;

/** `cap send <envelope.json> --to <host:port> [--run] [--json]`. */
export async function sendCommand(
  args: string[],
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  const flags = _parseFlags(args, {
    string: ["to", ...TLS_FLAGS],
    boolean: ["run", "json"],
  });
  if (flags.help) {
    console.log(SEND_HELP);
    return 0;
  }
  if (flags._.length !== 1) {
    throw new UsageError(`expects one envelope file\n\n${SEND_HELP}`);
  }
  const envelope = await _readText(flags._[0]!, "envelope");
  using client = await connect(flags);
  const { receipt, evidence } = await callRemote(() =>
    client.deliver(envelope, {
      run: flags.run === true,
      ...(options.signal ? { signal: options.signal } : {}),
    })
  );
  if (flags.json === true) {
    console.log(
      JSON.stringify(flags.run === true ? evidence : receipt, null, 2),
    );
  } else {
    console.log(
      receipt.accepted
        ? `accepted "${receipt.programId}" v${receipt.version}${
          receipt.idempotent ? " (already had it)" : ""
        }`
        : `refused: ${receipt.reason}: ${receipt.message}`,
    );
    for (const issue of receipt.verifier.issues) {
      console.log(
        `  ${issue.line}:${issue.column} ${issue.code}: ${issue.message}`,
      );
    }
    if (evidence) console.log(_renderEvidence(evidence));
  }
  if (!receipt.accepted) return 1;
  if (flags.run === true) return evidence?.outcome === "succeeded" ? 0 : 1;
  return 0;
}

const RUN_REMOTE_HELP =
  `Usage: deno task cap exec <program-id> --to <host:port> [--version N] [--json]

Runs a program already cached on the robot, streaming its events.

${TLS_HELP}`;

/** `cap exec <program-id> --to <host:port>`: runs a cached program. */
export async function execCommand(
  args: string[],
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  const flags = _parseFlags(args, {
    string: ["to", "version", ...TLS_FLAGS],
    boolean: ["json"],
    integers: ["version"],
  });
  if (flags.help) {
    console.log(RUN_REMOTE_HELP);
    return 0;
  }
  if (flags._.length !== 1) {
    throw new UsageError(`expects one program id\n\n${RUN_REMOTE_HELP}`);
  }
  using client = await connect(flags);
  const evidence = await callRemote(() =>
    client.run(flags._[0]!, {
      ...(flags.version ? { version: Number(flags.version) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onEvent: (event) => {
        if (flags.json !== true && event.type !== "run_ended") {
          console.log(
            `${event.type} ${JSON.stringify(event.data).slice(0, 160)}`,
          );
        }
      },
    })
  );
  console.log(
    flags.json === true
      ? JSON.stringify(evidence, null, 2)
      : _renderEvidence(evidence),
  );
  return evidence.outcome === "succeeded" ? 0 : 1;
}

/** `cap stop|resume|list --to <host:port>`. */
export function simpleRemote(kind: "stop" | "resume" | "list") {
  const help = `Usage: deno task cap ${kind} --to <host:port>${
    kind === "stop" ? " [--reason TEXT]" : ""
  } [--json]

${
    {
      stop:
        "Emergency stop: halts the running program and refuses runs until resume.",
      resume: "Allows runs again after an emergency stop.",
      list: "Lists the programs cached on the robot.",
    }[kind]
  }

${TLS_HELP}`;
  return async (args: string[]): Promise<number> => {
    const flags = _parseFlags(args, {
      string: ["to", "reason", ...TLS_FLAGS],
      boolean: ["json"],
    });
    if (flags.help) {
      console.log(help);
      return 0;
    }
    if (flags._.length > 0) {
      throw new UsageError(`unexpected argument "${flags._[0]}"`);
    }
    using client = await connect(flags);
    if (kind === "stop") {
      const { runId } = await callRemote(() =>
        client.stop(typeof flags.reason === "string" ? flags.reason : "")
      );
      console.log(
        flags.json
          ? JSON.stringify({ runId })
          : `stopped${runId ? ` run ${runId}` : " (nothing was running)"}`,
      );
    } else if (kind === "resume") {
      const { wasStopped } = await callRemote(() => client.resume());
      console.log(
        flags.json
          ? JSON.stringify({ wasStopped })
          : wasStopped
          ? "resumed"
          : "was not stopped",
      );
    } else {
      const programs = await callRemote(() => client.list());
      if (flags.json) console.log(JSON.stringify(programs, null, 2));
      else if (programs.length === 0) console.log("no cached programs");
      else {
        for (const p of programs) {
          console.log(
            `${p.programId.padEnd(24)} v${
              String(p.version).padEnd(12)
            } key ${p.keyId}  expires ${p.expiresAt}`,
          );
        }
      }
    }
    return 0;
  };
}

async function callRemote<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof EdgeCallError) {
      console.error(`cap: ${error.message}`);
      throw new RemoteFailed(error.message);
    }
    throw error;
  }
}

/** A call the robot refused or could not answer: exit 1. */
export class RemoteFailed extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "RemoteFailed";
  }
}
