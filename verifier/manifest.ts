import { z } from "zod";
import type { Schema } from "./schema.ts";

/** An id of a program, robot or key: 1-128 letters, digits, '_', '.', ':' or '-'. */
const _Id = z.string().regex(
  /^[A-Za-z0-9_.:-]{1,128}$/,
  "must be 1-128 characters of letters, digits, '_', '.', ':' or '-'",
);

const _Instant = z.iso.datetime({ offset: true });

const _Count = z.number().int().min(0);

/** The resource budgets a manifest asks for; they may only lower the robot's caps. */
export interface Budgets {
  /** Longest run, in milliseconds. */
  timeoutMs: number;
  /** Largest guest heap, in bytes. */
  memoryBytes: number;
  /** Most skill calls in one run. */
  maxSkillCalls: number;
}
/** The resource budgets a manifest asks for; they may only lower the robot's caps. */
export const Budgets: Schema<Budgets> = _budgets();
function _budgets() {
  return z.strictObject({
    timeoutMs: z.number().int().positive(),
    memoryBytes: z.number().int().positive(),
    maxSkillCalls: _Count,
  });
}

/** Where a program came from; `model` and `attempts` are required, anything else is kept. */
export interface Provenance {
  /** The model (or `human`) that wrote the program. */
  model: string;
  /** How many synthesis attempts it took. */
  attempts: number;
  /** Anything else the signer records. */
  [field: string]: unknown;
}
const _Provenance = z.looseObject({
  model: z.string().max(256),
  attempts: _Count,
});
/** Where a program came from; `model` and `attempts` are required, anything else is kept. */
export const Provenance: Schema<Provenance> = _Provenance;

/**
 * The signed manifest of a program, the payload of its DSSE envelope
 * (design "Signed programs").
 */
export interface Manifest {
  /** The program's id. */
  programId: string;
  /** Its version; only the newest accepted version runs. */
  version: number;
  /** The JavaScript source. */
  source: string;
  /** The instruction it was written for, if any. */
  instruction: string | null;
  /** The skill API version it was written against, e.g. `tabletop/1`. */
  apiVersion: string;
  /** `["*"]` or the ids of the robots it is for. */
  robots: string[];
  /** ISO 8601 time it was signed. */
  issuedAt: string;
  /** ISO 8601 time after which it is refused. */
  expiresAt: string;
  /** Resource budgets; they may only lower the robot's caps. */
  budgets: Budgets;
  /** Postcondition expressions checked after a run. */
  checks: string[];
  /** Where it came from. */
  provenance: Provenance;
}

/** The zod schema behind {@linkcode Manifest} (for the verifier's own checks). */
export const _ManifestSchema = z.strictObject({
  programId: _Id,
  version: z.number().int().positive(),
  source: z.string(),
  instruction: z.string().nullable(),
  apiVersion: z.string().min(1).max(64),
  robots: z.array(
    z.string().regex(
      /^(?:\*|[A-Za-z0-9_.:-]{1,128})$/,
      "must be \"*\" or a robot id (1-128 letters, digits, '_', '.', ':' or '-')",
    ),
  ).min(1).max(10_000).refine(
    (robots) => robots.length === 1 || !robots.includes("*"),
    'must be ["*"] or a list of robot ids',
  ),
  issuedAt: _Instant,
  expiresAt: _Instant,
  budgets: _budgets(),
  checks: z.array(z.string().max(2_000)).max(100),
  provenance: _Provenance,
}).refine(
  (m) => Date.parse(m.expiresAt) > Date.parse(m.issuedAt),
  { message: "must be later than issuedAt", path: ["expiresAt"] },
);

/**
 * The schema of a signed manifest (design "Signed programs"). Unknown
 * top-level fields are refused; extra `provenance` fields are kept.
 */
export const Manifest: Schema<Manifest> = _ManifestSchema;
