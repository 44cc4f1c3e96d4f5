/**
 * `cap synth --from-run <runId> --console <url> [--to <host:port>]… [--key …]`:
 * repair from the field. The run's instruction, program, failure (label,
 * line, calls) and world go into the repair loop as its first feedback; the
 * new program is dry-run in the recorded world, signed as the next version
 * of the same program for that robot, and delivered with `--to`.
 * @module
 */
import { HOST_PORT } from "../verifier/mod.ts";
import { parseArgs } from "node:util";
import { fetchRunRecord } from "../fleet/mod.ts";
import type { EvidenceRecord } from "../runtime/evidence/mod.ts";
import {
  repairFromRun,
  type RunRepair,
  sceneFromRecord,
  SynthesisError,
} from "../synthesis/mod.ts";
import {
  _openModel,
  _SYNTHESIS_OPTIONS,
  _synthesisLimits,
} from "./_synthesis_flags.ts";
import { _operatorKey } from "./_operator_key.ts";
import { UsageError } from "./_usage_error.ts";

const USAGE =
  `Usage: cap synth --from-run <runId> --console <url> [--to <host:port>]… [--run]
       [--key <private.jwk.json>] [--key-id <id>] [--out <envelope.json>] [--login user:password]
       [--operator-key <private.jwk.json>] [--model <name>] [--max-attempts N] [--replay] [--json]
Feeds a recorded run (instruction, program, failure, calls, world) into the repair loop,
dry-runs the repair in the recorded world, signs it as the next version of the program for
that robot (--key) and delivers it (--to); --run runs it there with a run command signed by
--operator-key (a key with the "operator" role; default $CAP_OPERATOR_KEY).`;

/** Runs `cap synth --from-run`; resolves with the exit code. */
export async function synthFromRunCommand(
  args: string[],
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  const { signal } = options;
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        "from-run": { type: "string" },
        console: { type: "string" },
        login: { type: "string" },
        to: { type: "string", multiple: true },
        run: { type: "boolean" },
        key: { type: "string" },
        "key-id": { type: "string" },
        "operator-key": { type: "string" },
        out: { type: "string" },
        ..._SYNTHESIS_OPTIONS,
      },
    });
  } catch (error) {
    console.error(`cap synth: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const usage = (message: string) => {
    console.error(`cap synth: ${message}\n${USAGE}`);
    return 2;
  };
  const runId = values["from-run"];
  if (runId === undefined || runId === "") {
    return usage("--from-run <runId> is required");
  }
  if (
    values.console === undefined || !/^https?:\/\/\S+$/.test(values.console)
  ) {
    return usage("--from-run needs --console <http(s)://host:port>");
  }
  const targets = values.to ?? [];
  const bad = targets.find((t) => !HOST_PORT.test(t));
  if (bad !== undefined) return usage(`--to takes host:port, got "${bad}"`);
  if (
    (targets.length > 0 || values.out !== undefined) && values.key === undefined
  ) {
    return usage(
      "--to and --out need --key <private.jwk.json> to sign the program",
    );
  }
  if (values.run && targets.length === 0) {
    return usage("--run needs --to <host:port>");
  }
  let limits;
  try {
    limits = _synthesisLimits(values);
  } catch (error) {
    return usage((error as Error).message);
  }
  const json = values.json === true;
  let operatorKey: (JsonWebKey & { kid?: string }) | null = null;
  if (values.run) {
    try {
      operatorKey = await _operatorKey(values);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      return usage(error.message);
    }
  }

  let record: EvidenceRecord;
  let privateJwk: JsonWebKey | undefined;
  try {
    record = await fetchRunRecord(values.console, runId, {
      login: values.login ?? Deno.env.get("CAP_FLEET_LOGIN"),
      signal,
    });
    if (record.program.instruction === null) {
      throw new Error(
        `Cannot repair run "${runId}": its program has no instruction`,
      );
    }
    sceneFromRecord(record);
    if (values.key !== undefined) {
      privateJwk = JSON.parse(
        await Deno.readTextFile(values.key),
      ) as JsonWebKey;
    }
  } catch (error) {
    console.error(`cap synth: ${(error as Error).message}`);
    return 1;
  }
  let opened;
  try {
    opened = await _openModel(values, signal);
  } catch (error) {
    console.error(`cap synth: ${(error as Error).message}`);
    return 1;
  }
  await using connection = opened;
  if (!json) {
    console.error(connection.note);
    console.error(
      `Repairing run ${runId} on "${record.robotId}": ${record.outcome}${
        record.failure === null
          ? ""
          : ` (${record.failure.label}${
            record.failure.line === undefined
              ? ""
              : ` at line ${record.failure.line}`
          })`
      }`,
    );
  }
  let repair: RunRepair;
  try {
    repair = await repairFromRun(record, {
      client: connection.client,
      ...limits,
      ...(privateJwk === undefined ? {} : {
        signing: {
          privateJwk,
          ...(values["key-id"] === undefined
            ? {}
            : { keyId: values["key-id"] }),
        },
      }),
      ...(targets.length === 0 ? {} : {
        deliver: {
          targets,
          run: values.run === true,
          ...(operatorKey === null ? {} : {
            operator: {
              privateJwk: operatorKey,
              ...(operatorKey.kid ? { keyId: operatorKey.kid } : {}),
            },
          }),
        },
      }),
      signal,
    });
  } catch (error) {
    if (!(error instanceof SynthesisError)) throw error;
    console.error(`cap synth: ${error.message}`);
    return 1;
  }
  const { synthesis: result, envelope, deliveries } = repair;
  if (!result.ok) {
    if (json) {
      console.log(
        JSON.stringify(
          { ok: false, runId, error: result.error, attempts: result.attempts },
          null,
          2,
        ),
      );
    } else console.error(`cap synth: ${result.error}`);
    return 1;
  }
  if (envelope !== null && values.out !== undefined) {
    await Deno.writeTextFile(
      values.out,
      JSON.stringify(envelope, null, 2) + "\n",
    );
  }
  const ok = deliveries.every((d) => d.ok);
  if (json) {
    console.log(JSON.stringify(
      {
        ok,
        runId,
        robotId: record.robotId,
        source: result.source,
        attempts: result.attempts.length,
        ...(envelope === null ? {} : { envelope }),
        deliveries,
      },
      null,
      2,
    ));
  } else {
    console.log(result.source);
    for (const d of deliveries) console.error(`${d.target}: ${d.message}`);
  }
  return ok ? 0 : 1;
}
