/**
 * `cap send <envelope.json> --to <host:port>… [--run] [--json]`: delivers a
 * signed program to each robot named (and with `--run` runs it there).
 * @module
 */
import type { EvidenceRecord } from "../runtime/evidence/mod.ts";
import type { WireReceipt } from "../runtime/grpc/mod.ts";
import { _parseCommand } from "./_args.ts";
import {
  _commandRobotId,
  _operatorKey,
  _signOperatorCommand,
  _withCommand,
  OPERATOR_FLAGS,
  OPERATOR_KEY_HELP,
} from "./_operator_key.ts";
import { _readText } from "./_read_text.ts";
import {
  _eachRobot,
  _parseRobotCommand,
  _report,
  ROBOT_HELP,
} from "./_robots.ts";
import { _renderEvidence } from "./_run_view.ts";

const HELP =
  `Usage: deno task cap send <envelope.json> --to <host:port>… [--run] [--json]
         [--operator-key <private.jwk.json>]

Delivers a signed program (made with "cap sign" or "cap synth") to each robot
named. The robot checks the envelope and re-verifies the program, then keeps
it in its program cache. With --run it runs it at once.

Options:
  --run                   run the program once accepted (needs an operator key
                          on robots that ask for signed commands)
  --json                  print the receipt (with --run: the evidence record)
                          as JSON; several robots: an array of
                          { robot, ok, receipt, evidence, error }
${OPERATOR_KEY_HELP}
  -h, --help              show this help

${ROBOT_HELP}

Exit: 0 every robot accepted (and, with --run, the run succeeded),
1 a robot refused, failed or could not be reached, 2 bad usage.`;

interface _Delivered {
  receipt: WireReceipt;
  evidence: EvidenceRecord | null;
}

/** `cap send`: exit 0 when every robot accepted (and succeeded), 1 otherwise, 2 on bad usage. */
export async function sendCommand(
  args: string[],
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  const flags = _parseRobotCommand(args, HELP, {
    string: OPERATOR_FLAGS,
    boolean: ["run"],
    argument: "envelope file",
  });
  if (flags === null) return 0;
  const run = flags.run === true;
  const envelope = await _readText(flags._[0]!, "envelope");
  const operatorKey = await _operatorKey(flags);
  const signal = options.signal ? { signal: options.signal } : {};
  const results = await _eachRobot<_Delivered>(flags, {
    command: "send",
    doing: run ? "deliver and run the program" : "deliver the program",
    ...(options.signal ? { signal: options.signal } : {}),
  }, async (client) => {
    const command = !run || operatorKey === null
      ? null
      : await _signOperatorCommand({
        command: "run",
        robot: await _commandRobotId(flags, () => client.getWorld(signal)),
        ..._programOf(envelope),
      }, operatorKey);
    return await client.deliver(envelope, {
      ..._withCommand(command),
      run,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  });
  return _report(results, {
    json: flags.json === true,
    single: ({ receipt, evidence }) => run ? evidence : receipt,
    row: ({ receipt, evidence }) => ({ receipt, evidence }),
    text: ({ receipt, evidence }) =>
      [
        receipt.accepted
          ? `accepted "${receipt.programId}" v${receipt.version}${
            receipt.idempotent ? " (already had it)" : ""
          }`
          : `refused: ${receipt.reason}: ${receipt.message}`,
        ...receipt.verifier.issues.map((issue) =>
          `  ${issue.line}:${issue.column} ${issue.code}: ${issue.message}`
        ),
        ...(evidence ? [_renderEvidence(evidence)] : []),
      ].join("\n"),
    ok: ({ receipt, evidence }) =>
      receipt.accepted && (!run || evidence?.outcome === "succeeded"),
  });
}

/** The program id and version an envelope's (unverified) manifest names, for the run command. */
function _programOf(
  envelope: string,
): { programId?: string; version?: number } {
  try {
    const payload = JSON.parse(envelope).payload;
    const manifest = JSON.parse(
      new TextDecoder().decode(
        Uint8Array.from(atob(payload), (c) => c.charCodeAt(0)),
      ),
    );
    return {
      ...(typeof manifest.programId === "string"
        ? { programId: manifest.programId }
        : {}),
      ...(Number.isSafeInteger(manifest.version)
        ? { version: manifest.version }
        : {}),
    };
  } catch {
    return {};
  }
}
