import { TABLETOP_API } from "../skills-bridge/mod.ts";
import {
  checkEnvelope,
  parseTrustStore,
  verifyProgram,
} from "../verifier/mod.ts";
import { _parseFlags } from "./_args.ts";
import { _readText } from "./_read_text.ts";
import { UsageError } from "./_usage_error.ts";

const HELP =
  `Usage: deno task cap verify <program.js | envelope.json> [--trust <trust.json>] [--robot ID] [--json]

Checks a program with the static verifier, or a signed envelope (signature,
trust, expiry, target) and then the program inside it.

Options:
  --trust <file>  trust store for envelopes (required for an envelope)
  --robot <id>    robot id the envelope must address (default: accept any)
  --json          print the verifier report as JSON
Exit: 0 accepted, 1 refused, 2 bad usage.`;

/** `cap verify`: exit 0 when accepted, 1 when refused, 2 on bad usage. */
export async function verifyCommand(args: string[]): Promise<number> {
  const flags = _parseFlags(args, {
    string: ["trust", "robot"],
    boolean: ["json"],
  });
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  if (flags._.length !== 1) {
    throw new UsageError(`expects one file, got ${flags._.length}\n\n${HELP}`);
  }
  const path = flags._[0]!;
  const text = await _readText(path, "program or envelope");
  const json = flags.json === true;
  const envelope = _parseEnvelopeLike(text);
  let source = text;
  let header: Record<string, unknown> = {};
  if (envelope !== null) {
    if (typeof flags.trust !== "string") {
      throw new UsageError(
        `"${path}" is an envelope: verifying it needs --trust <trust.json>`,
      );
    }
    const trustText = await _readText(flags.trust, "trust store");
    let trustStore;
    try {
      trustStore = parseTrustStore(JSON.parse(trustText));
    } catch (error) {
      throw new UsageError(
        `cannot read trust store "${flags.trust}": ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
    // Without --robot any target is accepted: check as the manifest's own
    // first robot (the signature is still checked before anything is trusted).
    const robotId = typeof flags.robot === "string"
      ? flags.robot
      : _claimedRobot(envelope);
    const checked = await checkEnvelope(text, { trustStore, robotId });
    if (!checked.ok) {
      const report = {
        ok: false,
        issues: [{
          code: checked.reason,
          message: checked.message,
          line: 0,
          column: 0,
        }],
      };
      if (json) console.log(JSON.stringify(report, null, 2));
      else console.error(`refused: ${checked.reason}: ${checked.message}`);
      return 1;
    }
    source = checked.manifest.source;
    header = {
      programId: checked.manifest.programId,
      version: checked.manifest.version,
      keyId: checked.keyId,
    };
  }
  const report = verifyProgram(source, { api: TABLETOP_API });
  if (json) {
    console.log(JSON.stringify(report, null, 2));
  } else if (report.ok) {
    const what = envelope === null
      ? `"${path}"`
      : `program "${header.programId}" v${header.version} signed by "${header.keyId}"`;
    console.log(`accepted: ${what}`);
  } else {
    console.error(`refused: "${path}" has ${report.issues.length} issue(s):`);
    for (const issue of report.issues) {
      console.error(
        `  ${path}:${issue.line}:${issue.column} ${issue.code}: ${issue.message}`,
      );
    }
  }
  return report.ok ? 0 : 1;
}

/** The parsed JSON when `text` looks like a DSSE envelope, else `null`. */
export function _parseEnvelopeLike(
  text: string,
): Record<string, unknown> | null {
  const trimmed = text.trimStart();
  if (!trimmed.startsWith("{")) return null;
  try {
    const value = JSON.parse(trimmed);
    if (value !== null && typeof value === "object" && "payloadType" in value) {
      return value;
    }
    return null;
  } catch {
    // A program that starts with "{" (a block) is still a program.
    return /"payloadType"/.test(trimmed.slice(0, 200)) ? {} : null;
  }
}

/**
 * The first robot an envelope's (not yet verified) manifest names, or `"*"`
 * when it names none: the target `cap verify` checks as without `--robot`.
 */
export function _claimedRobot(envelope: Record<string, unknown>): string {
  try {
    if (typeof envelope.payload !== "string") return "*";
    const bytes = Uint8Array.from(
      atob(envelope.payload),
      (c) => c.charCodeAt(0),
    );
    const manifest = JSON.parse(new TextDecoder().decode(bytes));
    const first = manifest?.robots?.[0];
    return typeof first === "string" ? first : "*";
  } catch {
    return "*";
  }
}
