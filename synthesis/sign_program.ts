import { DEFAULT_CAPS } from "../runtime/executor/mod.ts";
import type { Envelope, Manifest } from "../verifier/mod.ts";
import { signManifest } from "../verifier/mod.ts";
import type { SynthesisResult } from "./synthesize.ts";

/** Default validity of a signed program: 7 days. */
export const DEFAULT_PROGRAM_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** Options for {@linkcode signProgram}. */
export interface SignProgramOptions {
  /** The DSSE key id. Default: the JWK's `kid`. */
  keyId?: string;
  /** Default: a slug of the instruction, e.g. `put-the-red-block-in-the-blue-bowl`. */
  programId?: string;
  /**
   * Must rise with every new version of `programId`. Default: the issue time
   * in whole seconds (the wire's `uint32` version holds it until 2106;
   * milliseconds would not fit).
   */
  version?: number;
  /** Robots the program is addressed to. Default: `["*"]`. */
  robots?: readonly string[];
  /** Budgets (they can only lower the robot's caps). Default: the runtime's default caps. */
  budgets?: Partial<Manifest["budgets"]>;
  /** Validity from `now`, milliseconds. Default: 7 days. */
  ttlMs?: number;
  /** The issue time. Default: now. */
  now?: Date;
}

/** A program id from an instruction: lowercase words joined by `-`, at most 64 characters. */
function _programIdFor(instruction: string): string {
  const slug = instruction.toLowerCase().replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "").slice(0, 64).replace(/-+$/, "");
  return slug === "" ? "program" : slug;
}

/**
 * Signs a successful synthesis result: builds the manifest (source,
 * instruction, API version, checks, budgets, validity) with provenance
 * (`model`, `attempts`, `promptSha256`, the attempts' prompt hashes and
 * whether it was a replay) and returns the DSSE envelope. Throws a
 * `TypeError` for a failed result, a bad key or a manifest that breaks the
 * schema.
 */
export async function signProgram(
  result: SynthesisResult,
  privateJwk: JsonWebKey,
  options: SignProgramOptions = {},
): Promise<Envelope> {
  if (!result.ok || result.source === null) {
    throw new TypeError(
      `Cannot sign the program for "${result.instruction}": synthesis did not succeed${
        result.error === undefined ? "" : ` (${result.error})`
      }`,
    );
  }
  const now = options.now ?? new Date();
  const ttlMs = options.ttlMs ?? DEFAULT_PROGRAM_TTL_MS;
  const manifest: Manifest = {
    programId: options.programId ?? _programIdFor(result.instruction),
    version: options.version ?? Math.floor(now.getTime() / 1000),
    source: result.source,
    instruction: result.instruction,
    apiVersion: result.apiVersion,
    robots: [...(options.robots ?? ["*"])],
    issuedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
    budgets: { ...DEFAULT_CAPS, ...options.budgets },
    checks: [...result.checks],
    provenance: {
      model: result.model,
      attempts: result.attempts.length,
      promptSha256: result.promptSha256,
      attemptPromptSha256: result.attempts.map((a) => a.promptSha256),
      helpers: result.attempts.flatMap((a) => a.helpers.map((h) => h.name)),
      synthesizedAt: now.toISOString(),
    },
  };
  return await signManifest(
    manifest,
    privateJwk,
    options.keyId === undefined ? {} : { keyId: options.keyId },
  );
}
