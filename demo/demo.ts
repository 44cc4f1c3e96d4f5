/**
 * `deno task demo [--instruction TEXT] [--world scene.json] [--check EXPR]…
 * [--state-dir DIR] [--json]`: the whole closed loop on one machine. Makes a
 * signing key and the robot's trust store, starts an edge node in-process
 * (sim backend, gRPC on a free loopback port), writes a program for the
 * instruction with the model (or, without `OPENAI_API_KEY`/`OPENAI_BASE_URL`,
 * a REPLAY of recorded answers), shows every attempt and its repair, signs
 * the program with provenance, delivers it over gRPC, runs it on the robot
 * and prints the evidence. Exit 0 when the run succeeded, 1 when it did not,
 * 2 on bad usage, 130 when interrupted.
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type EvidenceRecord } from "../runtime/evidence/mod.ts";
import { parseServiceConfig, startEdgeNode } from "../runtime/mod.ts";
import { loadScene } from "../skills-bridge/mod.ts";
import {
  deliverToRobots,
  loadEvalTasks,
  openModelClient,
  replayKey,
  signProgram,
  type SynthesisAttempt,
  SynthesisError,
  synthesize,
} from "../synthesis/mod.ts";
import {
  checkEnvelope,
  generateSigningKey,
  OPERATOR_ROLE,
  PROGRAM_SIGNER_ROLE,
} from "../verifier/mod.ts";
import { _describeFailure, _evidenceLines } from "../cli/_describe_run.ts";

/** The instruction the demo synthesizes without `--instruction`. */
const DEFAULT_INSTRUCTION = "put the red block in the blue bowl";
const DEFAULT_WORLD = fileURLToPath(
  new URL("../examples/tabletop.json", import.meta.url),
);
const ROBOT_ID = "demo-arm";
const KEY_ID = "demo-cloud";

const USAGE =
  `Usage: deno task demo [--instruction <text>] [--world <scene.json>] [--check <expr>]…
                      [--state-dir <dir>] [--json]
The closed loop on one machine: synthesize (LLM or replay) → verify → dry-run → repair →
sign → deliver over gRPC → robot re-verifies and runs it → evidence.
  --instruction  what the robot should do (default: "${DEFAULT_INSTRUCTION}")
  --world        the scene for the dry-run and the robot's simulator (default: examples/tabletop.json)
  --check        a postcondition the dry-run and the robot check (repeatable; default: the
                 checks of the eval task with the same instruction, if there is one)
  --state-dir    where the key, trust store, robot cache and evidence go (default: a new temp dir)
  --json         print only the final evidence record on stdout (progress goes to stderr)
Model: OPENAI_API_KEY, OPENAI_BASE_URL, CAP_MODEL; with neither OPENAI_API_KEY nor
OPENAI_BASE_URL set, the answers are a REPLAY of recorded ones, not a live model.`;

/** Options for {@linkcode demo}. */
export interface DemoOptions {
  signal?: AbortSignal;
}

/**
 * Runs the demo with command-line `args`; resolves with the exit code: 0 when
 * the robot's run succeeded, 1 when synthesis, delivery or the run failed,
 * 2 on bad usage.
 */
export async function demo(
  args: string[],
  options: DemoOptions = {},
): Promise<number> {
  const { signal } = options;
  let values;
  try {
    ({ values } = parseArgs({
      args,
      allowPositionals: false,
      strict: true,
      options: {
        instruction: { type: "string" },
        world: { type: "string" },
        check: { type: "string", multiple: true },
        "state-dir": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    console.error(`demo: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const instruction = values.instruction ?? DEFAULT_INSTRUCTION;
  if (instruction.trim() === "") {
    console.error(`demo: --instruction must not be empty\n${USAGE}`);
    return 2;
  }
  const json = values.json === true;
  // With --json, stdout carries only the evidence record.
  const say = json ? console.error : console.log;
  const world = values.world ?? DEFAULT_WORLD;
  const withSignal = signal === undefined ? {} : { signal };
  let checks = values.check ?? [];
  let checksFrom = "--check";
  if (values.check === undefined) {
    const task = (await loadEvalTasks(undefined, withSignal)).find((t) =>
      replayKey(t.instruction) === replayKey(instruction)
    );
    if (task !== undefined) {
      checks = task.checks;
      checksFrom = `eval task ${task.id}`;
    }
  }

  let scene;
  try {
    scene = await loadScene(world, withSignal);
  } catch (error) {
    console.error(`demo: ${(error as Error).message}`);
    return 1;
  }

  await using stack = new AsyncDisposableStack();
  const connection = await openModelClient(withSignal);
  stack.use(connection);
  say(
    connection.replay
      ? [
        "REPLAY: the model answers below are a REPLAY of recorded answers",
        "(synthesis/replay/answers.json) served by a local replay server, NOT a live model.",
        "Set OPENAI_API_KEY (and OPENAI_BASE_URL, CAP_MODEL for another server or model) to use one.",
      ].join("\n")
      : `LIVE MODEL: ${connection.note}`,
  );

  // 1. The cloud's signing key and the robot's trust store.
  const stateDir = values["state-dir"] ??
    await Deno.makeTempDir({ prefix: "cap-edge-demo-" });
  await Deno.mkdir(stateDir, { recursive: true });
  // One key for the whole bench: it signs the program and the operator's run
  // command (a production deployment gives each key one role).
  const { privateJwk, trustStore } = await generateSigningKey(KEY_ID, {
    roles: [PROGRAM_SIGNER_ROLE, OPERATOR_ROLE],
  });
  const keyPath = `${stateDir}/cloud-key.jwk.json`;
  const trustPath = `${stateDir}/trust.json`;
  await Deno.writeTextFile(keyPath, JSON.stringify(privateJwk, null, 2), {
    mode: 0o600,
  });
  await Deno.writeTextFile(trustPath, JSON.stringify(trustStore, null, 2));
  say(
    `\n[1/5] Signing key "${KEY_ID}" (program-signer, operator) and the robot's trust store in ${stateDir}`,
  );

  // 2. The robot: an edge node with the simulator, gRPC on a free loopback port.
  const node = await startEdgeNode(
    parseServiceConfig({
      robotId: ROBOT_ID,
      stateDir: `${stateDir}/robot`,
      grpc: { listen: "127.0.0.1:0" },
      trustStore: trustPath,
      backend: { kind: "sim", world },
    }, { source: "the demo's robot configuration" }),
    {
      log: (level, message) => {
        if (level === "warn" || level === "error") {
          console.error(`  robot ${level}: ${message}`);
        }
      },
      ...withSignal,
    },
  );
  stack.defer(() => node.close());
  const target = `127.0.0.1:${node.grpc.port}`;
  say(
    `[2/5] Robot "${ROBOT_ID}" serving gRPC on ${target} (sim backend, scene ${world})`,
  );

  // 3. Synthesis: prompt → model → verifier → dry-run → repair.
  say(
    `[3/5] Synthesizing "${instruction}" with ${
      connection.replay
        ? "the REPLAY server"
        : `model "${connection.client.model}"`
    }`,
  );
  say(
    checks.length === 0
      ? "  no postconditions (add some with --check <expr>)"
      : `  postconditions (${checksFrom}):\n${
        checks.map((c) => `    ${c}`).join("\n")
      }`,
  );
  let result;
  try {
    result = await synthesize(instruction, {
      scene,
      checks,
      client: connection.client,
      onAttempt: (attempt) => say(_describeAttempt(attempt)),
      ...withSignal,
    });
  } catch (error) {
    if (!(error instanceof SynthesisError)) throw error;
    console.error(`demo: ${error.message}`);
    return 1;
  }
  if (!result.ok || result.source === null) {
    console.error(`demo: ${result.error ?? "synthesis did not succeed"}`);
    return 1;
  }
  say(`  accepted program (attempt ${result.attempts.length}):`);
  say(result.source.trimEnd().split("\n").map((l) => `    | ${l}`).join("\n"));

  // 4. Sign with provenance, deliver over gRPC, run on the robot.
  const envelope = await signProgram(result, privateJwk, {
    keyId: KEY_ID,
    robots: [ROBOT_ID],
  });
  const envelopePath = `${stateDir}/envelope.json`;
  await Deno.writeTextFile(
    envelopePath,
    JSON.stringify(envelope, null, 2) + "\n",
  );
  const signedCheck = await checkEnvelope(envelope, {
    trustStore,
    robotId: ROBOT_ID,
  });
  if (signedCheck.ok) {
    const m = signedCheck.manifest;
    say(
      `[4/5] Signed "${m.programId}" v${m.version} with key "${KEY_ID}" (DSSE, Ed25519) → ${envelopePath}`,
    );
    say(
      `  provenance: model "${m.provenance.model}", ${m.provenance.attempts} attempt(s), prompt sha256 ${
        String(m.provenance["promptSha256"])
      }`,
    );
  }
  say(`  delivering to ${target} over gRPC and running it…`);
  const [delivery] = await deliverToRobots(envelope, [target], {
    run: true,
    // The robot runs it only on the operator's signed command.
    operator: {
      privateJwk,
      keyId: KEY_ID,
      robotIds: { [target]: ROBOT_ID },
    },
    ...withSignal,
  });
  if (delivery === undefined) throw new Error("unreachable: no delivery");
  say(`  ${delivery.message}`);
  const evidence = delivery.evidence;
  if (evidence === null) {
    console.error(`demo: ${delivery.message}`);
    return 1;
  }

  // 5. The evidence.
  const evidencePath = `${stateDir}/evidence-${evidence.runId}.json`;
  await Deno.writeTextFile(
    evidencePath,
    JSON.stringify(evidence, null, 2) + "\n",
  );
  say(`[5/5] Evidence of run ${evidence.runId} on "${evidence.robotId}":`);
  say(_summarizeEvidence(evidence));
  say(
    `  full record: ${evidencePath} (also kept in the robot's cache ${stateDir}/robot/cache.sqlite)`,
  );
  if (values["state-dir"] === undefined) {
    say(`  remove the demo's state with: rm -r ${stateDir}`);
  }
  if (json) console.log(JSON.stringify(evidence, null, 2));
  say(
    evidence.outcome === "succeeded"
      ? `RESULT: run ${evidence.runId} succeeded`
      : `RESULT: run ${evidence.runId} ${evidence.outcome}${
        evidence.failure === null ? "" : ` (${evidence.failure.label})`
      }`,
  );
  return delivery.ok && evidence.outcome === "succeeded" ? 0 : 1;
}

/** The lines that show one attempt: what the verifier or the dry-run said. */
function _describeAttempt(a: SynthesisAttempt): string {
  const head = `  attempt ${a.attempt}${
    a.helpers.length === 0
      ? ""
      : ` (+ helper(s) ${a.helpers.map((h) => h.name).join(", ")})`
  }:`;
  if (a.error !== undefined) return `${head} no program: ${a.error}`;
  if (a.verifier !== null && !a.verifier.ok) {
    return [
      `${head} verifier REFUSED it (${a.verifier.issues.length} issue(s)) → sent back to the model`,
      ...a.verifier.issues.map((i) =>
        `    line ${i.line}:${i.column} ${i.code}: ${i.message}`
      ),
    ].join("\n");
  }
  if (a.dryRun === null) return `${head} verifier ok, no dry-run`;
  if (a.dryRun.outcome === "succeeded") {
    return `${head} verifier ok; dry-run succeeded (${a.dryRun.calls.length} skill call(s), ${a.dryRun.checks.length} check(s) held)`;
  }
  const f = a.dryRun.failure;
  return `${head} verifier ok; dry-run ${a.dryRun.outcome}${
    f === null ? "" : `: ${_describeFailure(f)}`
  } → sent back to the model`;
}

/** Calls, checks, failure and outcome of a run, indented. */
function _summarizeEvidence(evidence: EvidenceRecord): string {
  const lines = _evidenceLines(evidence, "call #");
  lines.push(
    `  outcome ${evidence.outcome}: ${evidence.resources.skillCalls} skill call(s) in ${
      Math.round(evidence.resources.wallMs)
    } ms (verifier on the robot: ${evidence.verifier.ok ? "ok" : "refused"})`,
  );
  return lines.join("\n");
}

if (import.meta.main) {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error("interrupted"));
  Deno.addSignalListener("SIGINT", onSignal);
  let code: number;
  try {
    code = await demo(Deno.args, { signal: controller.signal });
  } catch (error) {
    console.error(
      `demo: ${error instanceof Error ? error.message : String(error)}`,
    );
    code = controller.signal.aborted ? 130 : 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  Deno.exit(code);
}
