/**
 * `cap evidence <runId | record.json> [--to <host:port>] [--json] [--mcap <file>]`:
 * one run's evidence record, from a robot's store or from a file written by
 * `cap run --json`, shown as the run view, as JSON, or as an MCAP file for
 * Foxglove.
 * @module
 */
import type { EvidenceRecord } from "../runtime/evidence/mod.ts";
import { _parseCommand } from "./_args.ts";
import { _readText } from "./_read_text.ts";
import { _parseRobotCommand, ROBOT_HELP } from "./_robots.ts";
import { _renderEvidence } from "./_run_view.ts";
import { UsageError } from "./_usage_error.ts";

const HELP =
  `Usage: deno task cap evidence <runId> --to <host:port> [--json] [--mcap <file>]
       deno task cap evidence <record.json> [--json] [--mcap <file>]

Shows one run's evidence record: fetched from the robot's evidence store by
run id (see "cap runs"), or read from a file ("cap run --json > run.json").

Options:
  --json                  print the record as JSON
  --mcap <file>           also write it as an MCAP file to open in Foxglove:
                          /cap/evidence (the record), /cap/calls (one message
                          per skill call at its time), /cap/world (before and
                          after), /cap/events (run events), /cap/log (the same
                          as foxglove.Log lines for the Log panel)
  -h, --help              show this help

${ROBOT_HELP}

Exit: 0 shown (and written), 1 the robot has no such run or could not be
reached, 2 bad usage (no such file, not an evidence record).`;

/** `cap evidence`: exit 0 when shown, 1 when the robot has none, 2 on bad usage. */
export async function evidenceCommand(
  args: string[],
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  const flags = _parseRobotCommand(args, HELP, {
    string: ["mcap"],
    argument: "run id or record file",
  });
  if (flags === null) return 0;
  const which = flags._[0]!;
  let record: EvidenceRecord | null;
  if (flags.to === undefined) {
    record = _parseRecord(await _readText(which, "evidence record"), which);
  } else {
    const { _fetchEvidence } = await import("./_fetch_evidence.ts");
    record = await _fetchEvidence(flags, which, options.signal);
    if (record === null) return 1;
  }
  if (typeof flags.mcap === "string") {
    const { evidenceToMcap } = await import("./evidence_to_mcap.ts");
    await Deno.writeFile(flags.mcap, await evidenceToMcap(record));
    console.error(`wrote ${flags.mcap} (open it in Foxglove)`);
  }
  console.log(
    flags.json === true
      ? JSON.stringify(record, null, 2)
      : _renderEvidence(record),
  );
  return 0;
}

/** An evidence record from JSON text; bad usage when it is not one. */
function _parseRecord(text: string, path: string): EvidenceRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(
      `cannot read evidence record "${path}": not valid JSON`,
    );
  }
  const record = value as Partial<EvidenceRecord> | null;
  for (const field of ["runId", "startedAt", "endedAt", "outcome"] as const) {
    if (
      record === null || typeof record !== "object" ||
      typeof record[field] !== "string"
    ) {
      throw new UsageError(
        `cannot read evidence record "${path}": it has no "${field}" (write one with "cap run --json")`,
      );
    }
  }
  for (const field of ["calls", "checks"] as const) {
    if (!Array.isArray(record![field])) {
      throw new UsageError(
        `cannot read evidence record "${path}": "${field}" is not a list`,
      );
    }
  }
  return record as EvidenceRecord;
}
