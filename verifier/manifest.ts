import { z } from "zod";

/** An id of a program, robot or key: 1-128 letters, digits, '_', '.', ':' or '-'. */
const _Id = z.string().regex(
  /^[A-Za-z0-9_.:-]{1,128}$/,
  "must be 1-128 characters of letters, digits, '_', '.', ':' or '-'",
);

const _Instant = z.iso.datetime({ offset: true });

const _Count = z.number().int().min(0);

/** The resource budgets a manifest asks for; they may only lower the robot's caps. */
export const Budgets = z.strictObject({
  timeoutMs: z.number().int().positive(),
  memoryBytes: z.number().int().positive(),
  maxSkillCalls: _Count,
});
/** The resource budgets a manifest asks for; they may only lower the robot's caps. */
export type Budgets = z.infer<typeof Budgets>;

/** Where a program came from; `model` and `attempts` are required, anything else is kept. */
export const Provenance = z.looseObject({
  model: z.string().max(256),
  attempts: _Count,
});

/**
 * The signed manifest of a program, the payload of its DSSE envelope
 * (design "Signed programs"). Unknown top-level fields are refused; extra
 * `provenance` fields are kept.
 */
export const Manifest = z.strictObject({
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
  budgets: Budgets,
  checks: z.array(z.string().max(2_000)).max(100),
  provenance: Provenance,
}).refine(
  (m) => Date.parse(m.expiresAt) > Date.parse(m.issuedAt),
  { message: "must be later than issuedAt", path: ["expiresAt"] },
);
/** The signed manifest of a program (design "Signed programs"). */
export type Manifest = z.infer<typeof Manifest>;
