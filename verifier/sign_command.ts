import type { Envelope } from "./dsse.ts";
import {
  _OperatorCommandSchema,
  COMMAND_PAYLOAD_TYPE,
  MAX_COMMAND_WINDOW_MS,
  type OperatorCommand,
} from "./operator_command.ts";
import { _signDsse } from "./_sign_dsse.ts";
import { _describeZodError } from "./_zod_issue.ts";

/** What to sign: an operator command whose time window and nonce may be left to {@linkcode signCommand}. */
export type CommandInit =
  & Omit<OperatorCommand, "issuedAt" | "expiresAt" | "nonce">
  & Partial<Pick<OperatorCommand, "issuedAt" | "expiresAt" | "nonce">>;

/** Options of {@linkcode signCommand}. */
export interface SignCommandOptions {
  /** The DSSE `keyid`; default the private JWK's `kid`. */
  keyId?: string;
  /** The signing time, for a missing `issuedAt`; default `new Date()`. */
  now?: Date;
  /** Validity of the command, for a missing `expiresAt`; default 5 minutes, at most 10. */
  ttlMs?: number;
}

const _DEFAULT_TTL_MS = 5 * 60_000;

/**
 * Signs an operator command with an Ed25519 private JWK (a key with the
 * `operator` role in the robot's trust store) as a DSSE envelope of type
 * `application/vnd.cap-edge.command+json`. A missing `issuedAt` is `now`, a
 * missing `expiresAt` is `issuedAt + ttlMs`, a missing `nonce` is 128 random
 * bits. Send the envelope's JSON text (UTF-8) as the gRPC `command` bytes.
 * Throws a `TypeError` for a command that breaks the schema (naming the
 * field), a window over 10 minutes, or a key that is not an Ed25519 private
 * JWK.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { generateSigningKey, signCommand } from "./mod.ts";
 * const { privateJwk } = await generateSigningKey("op-1", { roles: ["operator"] });
 * const envelope = await signCommand(
 *   { command: "run", robot: "arm-01", programId: "pick-mug", version: 3 },
 *   privateJwk,
 * );
 * equal(envelope.payloadType, "application/vnd.cap-edge.command+json");
 * const bytes = new TextEncoder().encode(JSON.stringify(envelope));
 * equal(bytes.byteLength > 0, true);
 * ```
 */
export async function signCommand(
  command: CommandInit,
  privateJwk: JsonWebKey,
  options: SignCommandOptions = {},
): Promise<Envelope> {
  const subject = typeof command?.command === "string"
    ? `command ${JSON.stringify(command.command.slice(0, 32))}`
    : "command";
  const ttlMs = options.ttlMs ?? _DEFAULT_TTL_MS;
  if (!(ttlMs > 0 && ttlMs <= MAX_COMMAND_WINDOW_MS)) {
    throw new TypeError(
      `Cannot sign ${subject}: options.ttlMs must be above 0 and at most ${MAX_COMMAND_WINDOW_MS}, got ${ttlMs}`,
    );
  }
  const now = options.now ?? new Date();
  const issuedAt = command.issuedAt ?? now.toISOString();
  const full = {
    ...command,
    issuedAt,
    expiresAt: command.expiresAt ??
      new Date(Date.parse(issuedAt) + ttlMs).toISOString(),
    nonce: command.nonce ??
      crypto.getRandomValues(new Uint8Array(16)).toBase64({
        alphabet: "base64url",
        omitPadding: true,
      }),
  };
  const result = _OperatorCommandSchema.safeParse(full, { reportInput: true });
  if (!result.success) {
    const { message } = _describeZodError(result.error, "the command");
    throw new TypeError(`Cannot sign ${subject}: ${message}`);
  }
  const window = Date.parse(result.data.expiresAt) -
    Date.parse(result.data.issuedAt);
  if (window > MAX_COMMAND_WINDOW_MS) {
    throw new TypeError(
      `Cannot sign ${subject}: its window from issuedAt to expiresAt is ${window} ms, the limit is ${MAX_COMMAND_WINDOW_MS}`,
    );
  }
  const payload = new TextEncoder().encode(JSON.stringify(result.data));
  return await _signDsse(
    COMMAND_PAYLOAD_TYPE,
    payload,
    privateJwk,
    options.keyId,
    subject,
  );
}
