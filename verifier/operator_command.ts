import { z } from "zod";
import type { Schema } from "./schema.ts";

/** The DSSE `payloadType` of a signed operator command. */
export const COMMAND_PAYLOAD_TYPE = "application/vnd.cap-edge.command+json";

/** The role a key needs to sign operator commands. */
export const OPERATOR_ROLE = "operator";

/** Longest time window of a command, `expiresAt - issuedAt`: 10 minutes. */
export const MAX_COMMAND_WINDOW_MS = 10 * 60_000;

const _Id = z.string().regex(
  /^[A-Za-z0-9_.:-]{1,128}$/,
  "must be 1-128 characters of letters, digits, '_', '.', ':' or '-'",
);

/**
 * An operator command, the payload of a command envelope (design "Operator
 * commands"): what to do (`run` a program, `resume` after a stop), for which
 * robot, when it is valid, and a nonce that makes it single-use. `run` names
 * the program (`programId`, and optionally the `version`); unknown fields are
 * refused.
 */
export interface OperatorCommand {
  /** `run` a program or `resume` after an emergency stop. */
  command: "run" | "resume";
  /** The robot it is for (exactly one). */
  robot: string;
  /** The program to run (required for `run`). */
  programId?: string | undefined;
  /** The version to run; without it, the newest accepted version. */
  version?: number | undefined;
  /** ISO 8601 time it was signed. */
  issuedAt: string;
  /** ISO 8601 time after which it is refused, at most 10 minutes after `issuedAt`. */
  expiresAt: string;
  /** Makes it single-use: 16-128 characters of letters, digits, '_' or '-'. */
  nonce: string;
}

/** The zod schema behind {@linkcode OperatorCommand}. */
export const _OperatorCommandSchema = z.strictObject({
  command: z.enum(["run", "resume"]),
  robot: _Id,
  programId: _Id.optional(),
  version: z.number().int().positive().optional(),
  issuedAt: z.iso.datetime({ offset: true }),
  expiresAt: z.iso.datetime({ offset: true }),
  nonce: z.string().regex(
    /^[A-Za-z0-9_-]{16,128}$/,
    "must be 16-128 characters of letters, digits, '_' or '-'",
  ),
}).refine(
  (c) => Date.parse(c.expiresAt) > Date.parse(c.issuedAt),
  { message: "must be later than issuedAt", path: ["expiresAt"] },
).refine(
  (c) => c.command !== "run" || c.programId !== undefined,
  { message: "is required for a run command", path: ["programId"] },
);
/**
 * The schema of an operator command, the payload of a command envelope
 * (design "Operator commands"). Unknown fields are refused.
 */
export const OperatorCommand: Schema<OperatorCommand> = _OperatorCommandSchema;
