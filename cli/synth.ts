/**
 * `cap synth "<instruction>" --world <scene.json> [--check EXPR]… [--to host:port]…
 * [--run] [--key private.jwk.json] [--out envelope.json] [--json]`: writes a
 * program with an LLM (or the replay server when no model is configured),
 * verifies and dry-runs it, signs it with provenance and delivers it over
 * gRPC to each robot named by `--to` (and with `--run` runs it there).
 * @module
 */
import { HOST_PORT } from "../verifier/mod.ts";
import { _parseArgsStrict } from "./_args.ts";
import { loadScene } from "../skills-bridge/mod.ts";
import type { EvidenceRecord } from "../runtime/evidence/mod.ts";
import type { EdgeClientTls } from "../runtime/grpc/mod.ts";
import {
  deliverToRobots,
  type RobotDelivery,
  signProgram,
  type SynthesisAttempt,
  SynthesisError,
  synthesize,
} from "../synthesis/mod.ts";
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_HELPER_DEPTH,
} from "../synthesis/mod.ts";
import type { Envelope } from "../verifier/mod.ts";
import {
  _openModel,
  _SYNTHESIS_OPTIONS,
  _synthesisLimits,
  type SynthesisLimits,
} from "./_synthesis_flags.ts";
import { _describeFailure, _evidenceLines } from "./_describe_run.ts";
import { _operatorKey } from "./_operator_key.ts";
import { UsageError } from "./_usage_error.ts";

/** Options for {@linkcode synthCommand}. */
export interface SynthCommandOptions {
  signal?: AbortSignal;
}

const USAGE =
  `Usage: cap synth "<instruction>" --world <scene.json> [--check <expr>]… [--to <host:port>]… [--run]
       [--key <private.jwk.json>] [--key-id <id>] [--out <envelope.json>] [--program-id <id>]
       [--operator-key <private.jwk.json>]
       [--robot <id>]… [--model <name>] [--max-attempts N] [--max-helper-depth N] [--replay] [--json]
       [--ca <pem> [--cert <pem> --client-key <pem>] [--server-name <name>]]
Delivery: --to sends the signed program over gRPC to each robot named (repeatable; needs --key);
--run runs it there and prints each robot's evidence; the robot asks for a run command signed
with --operator-key (a key with the "operator" role; default $CAP_OPERATOR_KEY). --ca enables TLS, --cert/--client-key mTLS.
Model: OPENAI_BASE_URL, OPENAI_API_KEY, CAP_MODEL (any OpenAI-compatible server); with neither
OPENAI_API_KEY nor OPENAI_BASE_URL set, recorded answers from the replay server are used.
Defaults: --max-attempts ${DEFAULT_MAX_ATTEMPTS}, --max-helper-depth ${DEFAULT_MAX_HELPER_DEPTH}, robots ["*"], program id from the instruction.
Exit: 0 a program was synthesized (and signed, written and delivered as asked), 1 synthesis
or a delivery failed, 2 bad usage.`;

/**
 * Runs `cap synth`. Exit code 0 when a program was synthesized (and signed,
 * written and delivered as asked), 1 when synthesis or delivery failed, 2 on
 * bad usage.
 */
export async function synthCommand(
  args: string[],
  options: SynthCommandOptions = {},
): Promise<number> {
  const { signal } = options;
  if (args.some((a) => a === "--from-run" || a.startsWith("--from-run="))) {
    return await (await import("./synth_from_run.ts")).synthFromRunCommand(
      args,
      options,
    );
  }
  let parsed;
  try {
    parsed = _parseArgsStrict({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        world: { type: "string" },
        check: { type: "string", multiple: true },
        to: { type: "string", multiple: true },
        run: { type: "boolean" },
        ca: { type: "string" },
        cert: { type: "string" },
        "client-key": { type: "string" },
        "server-name": { type: "string" },
        key: { type: "string" },
        "key-id": { type: "string" },
        "operator-key": { type: "string" },
        out: { type: "string" },
        "program-id": { type: "string" },
        robot: { type: "string", multiple: true },
        ..._SYNTHESIS_OPTIONS,
      },
    });
  } catch (error) {
    console.error(`cap synth: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const json = values.json === true;
  const usage = (message: string) => {
    console.error(`cap synth: ${message}\n${USAGE}`);
    return 2;
  };
  if (positionals.length !== 1 || positionals[0]?.trim() === "") {
    return usage(
      `expected one instruction in quotes, got ${positionals.length} argument(s)`,
    );
  }
  const instruction = positionals[0] as string;
  if (values.world === undefined) {
    return usage("--world <scene.json> is required");
  }
  let limits: SynthesisLimits;
  try {
    limits = _synthesisLimits(values);
  } catch (error) {
    return usage((error as Error).message);
  }
  const targets = values.to ?? [];
  if (
    (targets.length > 0 || values.out !== undefined) && values.key === undefined
  ) {
    return usage(
      "--to and --out need --key <private.jwk.json> to sign the program",
    );
  }
  const badTarget = targets.find((t) => !HOST_PORT.test(t));
  if (badTarget !== undefined) {
    return usage(`--to takes host:port, got "${badTarget}"`);
  }
  const run = values.run === true;
  if (run && targets.length === 0) {
    return usage("--run needs at least one --to <host:port>");
  }
  const tlsFlags = ["cert", "client-key", "server-name"] as const;
  const strayTls = tlsFlags.find((f) => values[f] !== undefined);
  if (values.ca === undefined && strayTls !== undefined) {
    return usage(`--${strayTls} needs --ca <pem> (TLS)`);
  }
  if ((values.cert === undefined) !== (values["client-key"] === undefined)) {
    return usage("--cert and --client-key go together (mutual TLS)");
  }

  let operatorKey: (JsonWebKey & { kid?: string }) | null = null;
  if (run) {
    try {
      operatorKey = await _operatorKey(values);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      return usage(error.message);
    }
  }

  let scene;
  let privateJwk: JsonWebKey | undefined;
  let tls: EdgeClientTls | undefined;
  try {
    scene = await loadScene(values.world, signal ? { signal } : {});
    if (values.key !== undefined) {
      privateJwk = await _readKey(values.key, signal);
    }
    if (values.ca !== undefined) {
      tls = {
        ca: await _readPem(values.ca, "CA certificate", signal),
        ...(values.cert === undefined ? {} : {
          cert: await _readPem(values.cert, "client certificate", signal),
        }),
        ...(values["client-key"] === undefined ? {} : {
          key: await _readPem(values["client-key"], "client key", signal),
        }),
        ...(values["server-name"] === undefined
          ? {}
          : { serverName: values["server-name"] }),
      };
    }
  } catch (error) {
    console.error(`cap synth: ${(error as Error).message}`);
    return 1;
  }

  let connection;
  try {
    connection = await _openModel(values, signal);
  } catch (error) {
    console.error(`cap synth: ${(error as Error).message}`);
    return 1;
  }
  await using _connection = connection;
  console.error(connection.note);

  let result;
  try {
    result = await synthesize(instruction, {
      scene,
      checks: values.check ?? [],
      client: connection.client,
      ...limits,
      ...(json ? {} : { onAttempt: (a) => console.error(_describeAttempt(a)) }),
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    if (!(error instanceof SynthesisError)) throw error;
    if (json) {
      console.log(JSON.stringify(
        {
          ok: false,
          instruction,
          model: connection.client.model,
          replay: connection.replay,
          error: error.message,
          errorCode: error.code,
          attempts: error.attempts,
        },
        null,
        2,
      ));
    } else console.error(`cap synth: ${error.message}`);
    return 1;
  }

  let envelope: Envelope | undefined;
  let deliveries: RobotDelivery[] = [];
  let code = result.ok ? 0 : 1;
  if (result.ok && privateJwk !== undefined) {
    try {
      envelope = await signProgram(result, privateJwk, {
        ...(values["key-id"] === undefined ? {} : { keyId: values["key-id"] }),
        ...(values["program-id"] === undefined
          ? {}
          : { programId: values["program-id"] }),
        ...(values.robot === undefined ? {} : { robots: values.robot }),
      });
      if (values.out !== undefined) {
        await Deno.writeTextFile(
          values.out,
          JSON.stringify(envelope, null, 2) + "\n",
          signal ? { signal } : {},
        );
      }
    } catch (error) {
      console.error(`cap synth: ${(error as Error).message}`);
      return 1;
    }
    if (targets.length > 0) {
      if (!json) {
        console.error(
          `Delivering to ${targets.join(", ")} over gRPC${
            run ? " and running it" : ""
          }…`,
        );
      }
      deliveries = await deliverToRobots(envelope, targets, {
        run,
        ...(operatorKey === null ? {} : {
          operator: {
            privateJwk: operatorKey,
            ...(operatorKey.kid ? { keyId: operatorKey.kid } : {}),
          },
        }),
        ...(tls === undefined ? {} : { tls }),
        ...(signal ? { signal } : {}),
      });
    }
    if (deliveries.some((d) => !d.ok)) code = 1;
  }

  if (json) {
    console.log(JSON.stringify(
      {
        ok: result.ok,
        instruction,
        model: result.model,
        replay: connection.replay,
        promptSha256: result.promptSha256,
        source: result.source,
        ...(result.error === undefined ? {} : { error: result.error }),
        attempts: result.attempts,
        ...(envelope === undefined ? {} : { envelope }),
        ...(values.out === undefined || envelope === undefined
          ? {}
          : { out: values.out }),
        deliveries,
      },
      null,
      2,
    ));
    return code;
  }
  if (!result.ok) {
    console.error(`cap synth: ${result.error}`);
    return code;
  }
  console.log(result.source);
  console.error(
    `Synthesized in ${result.attempts.length} attempt(s) by ${
      connection.replay
        ? "the replay server (recorded answers)"
        : `model "${result.model}"`
    }; prompt sha256 ${result.promptSha256}`,
  );
  if (envelope !== undefined) {
    console.error(
      values.out === undefined
        ? `Signed (key ${envelope.signatures[0]?.keyid ?? "?"})`
        : `Signed envelope written to ${values.out}`,
    );
  }
  for (const d of deliveries) {
    console.error(`${d.target}: ${d.message}`);
    if (d.receipt !== null) {
      for (const issue of d.receipt.verifier.issues) {
        console.error(
          `  verifier ${issue.line}:${issue.column} ${issue.code}: ${issue.message}`,
        );
      }
    }
    if (d.evidence !== null) console.error(_summarizeEvidence(d.evidence));
  }
  return code;
}

async function _readKey(
  path: string,
  signal?: AbortSignal,
): Promise<JsonWebKey> {
  let text: string;
  try {
    text = await Deno.readTextFile(path, signal ? { signal } : {});
  } catch (error) {
    throw new Error(`Cannot read key "${path}": ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    return JSON.parse(text) as JsonWebKey;
  } catch (error) {
    throw new Error(
      `Cannot read key "${path}": not JSON (${(error as Error).message})`,
      {
        cause: error,
      },
    );
  }
}

async function _readPem(
  path: string,
  what: string,
  signal?: AbortSignal,
): Promise<string> {
  try {
    return await Deno.readTextFile(path, signal ? { signal } : {});
  } catch (error) {
    throw new Error(
      `Cannot read the ${what} "${path}": ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** A few indented lines: the calls, the checks and the failure of a run. */
function _summarizeEvidence(evidence: EvidenceRecord): string {
  const lines = _evidenceLines(evidence, "#");
  lines.push(
    `  ${evidence.outcome}: ${evidence.resources.skillCalls} skill call(s) in ${evidence.resources.wallMs} ms on robot "${evidence.robotId}"`,
  );
  return lines.join("\n");
}

/** One progress line for an attempt. */
function _describeAttempt(a: SynthesisAttempt): string {
  const helpers = a.helpers.length === 0
    ? ""
    : ` (+${a.helpers.length} helper(s): ${
      a.helpers.map((h) => h.name).join(", ")
    })`;
  if (a.error !== undefined) return `attempt ${a.attempt}: ${a.error}`;
  if (a.verifier !== null && !a.verifier.ok) {
    const first = a.verifier.issues[0];
    return `attempt ${a.attempt}${helpers}: verifier refused (${a.verifier.issues.length} issue(s)${
      first === undefined
        ? ""
        : `; ${first.code} line ${first.line}: ${first.message}`
    })`;
  }
  if (a.dryRun === null) return `attempt ${a.attempt}${helpers}: no dry-run`;
  if (a.dryRun.outcome === "succeeded") {
    return `attempt ${a.attempt}${helpers}: dry-run succeeded (${a.dryRun.calls.length} skill call(s), ${a.dryRun.checks.length} check(s) held)`;
  }
  const f = a.dryRun.failure;
  return `attempt ${a.attempt}${helpers}: dry-run ${a.dryRun.outcome}${
    f === null ? "" : `: ${_describeFailure(f)}`
  }`;
}
