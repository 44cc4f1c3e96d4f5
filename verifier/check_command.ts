import { decodeBase64, pae } from "./dsse.ts";
import {
  _OperatorCommandSchema,
  COMMAND_PAYLOAD_TYPE,
  MAX_COMMAND_WINDOW_MS,
  OPERATOR_ROLE,
  type OperatorCommand,
} from "./operator_command.ts";
import type { TrustStore } from "./trust_store.ts";
import {
  _assertCheckOptions,
  type _DsseFault,
  type _DsseRefusal,
  _errorText,
  _parseDssePayload,
  _payloadValue,
  _readDsseEnvelope,
  _refusal,
  _timeWindow,
  _verifyDsseSignatures,
} from "./_dsse_check.ts";
import { _describeZodError, _show } from "./_zod_issue.ts";

/** Why {@linkcode checkCommand} refused a command. */
export type CommandRejectReason =
  /** Not a DSSE envelope: not UTF-8, not JSON, wrong shape, bad base64. */
  | "bad_envelope"
  /** Larger than `maxBytes`. */
  | "too_large"
  /** A JSON object in the envelope or the command holds a key twice. */
  | "duplicate_key"
  /** The payloadType is not a command's. */
  | "wrong_type"
  | "unknown_key"
  | "revoked_key"
  /** The key does not have the `operator` role. */
  | "missing_role"
  | "bad_signature"
  /** The signed payload is not a valid command. */
  | "bad_command"
  /** The command is for another robot. */
  | "wrong_robot"
  /** `issuedAt` (or the key's `notBefore`) is in the future, beyond the skew. */
  | "not_yet_valid"
  /** `expiresAt` (or the key's `notAfter`) is past. */
  | "expired"
  /** `expiresAt - issuedAt` is above 10 minutes. */
  | "window_too_long"
  /** The command is not the one `expect` asks for (another command, program or version). */
  | "wrong_command"
  /** The nonce was seen before. */
  | "replayed_nonce";

/** Options of {@linkcode checkCommand}. */
export interface CommandCheckOptions {
  /** The keys the robot trusts; the signer needs the `operator` role. */
  trustStore: TrustStore;
  /** This robot's id; the command's `robot` must be exactly it. */
  robotId: string;
  /** The current time; default `new Date()`. */
  now?: Date;
  /** Tolerated clock difference for `issuedAt` and key windows (expiry is strict); default 60 000 ms. */
  clockSkewMs?: number;
  /**
   * The robot's nonce memory. Called once, last, only for a command that
   * passed every other check: return `true` when `nonce` was seen before
   * (the command is refused, `replayed_nonce`); otherwise remember it,
   * durably, until `expiresAt` and return `false`. Checking and remembering
   * in one call keeps two concurrent copies of a command from both passing.
   * An error it throws (or rejects with) propagates.
   */
  seenNonce: (nonce: string, expiresAt: Date) => boolean | Promise<boolean>;
  /**
   * What the call is about to do; a command for something else is refused
   * (`wrong_command`). `version` is the version that will run: a command
   * that names a version must name this one, a command without a version
   * allows the (newest) version.
   */
  expect?: { command: "run" | "resume"; programId?: string; version?: number };
  /** Largest accepted envelope, in bytes; default 64 KiB. */
  maxBytes?: number;
}

/** The outcome of {@linkcode checkCommand}. */
export type CommandCheck =
  | {
    ok: true;
    /** The verified command. */
    command: OperatorCommand;
    /** The trusted operator key whose signature verified. */
    keyId: string;
  }
  | {
    ok: false;
    reason: CommandRejectReason;
    /** `Cannot accept operator command: <why>`, naming the field and value. */
    message: string;
    /** The offending field, e.g. `signatures[0].keyid` or `robot`. */
    field?: string;
  };

/** Default largest command envelope: 64 KiB. */
export const DEFAULT_COMMAND_MAX_BYTES = 64 * 1024;

type _Refusal = Extract<CommandCheck, { ok: false }>;

/**
 * Checks a signed operator command (design "Operator commands"): envelope
 * shape and size, strict JSON (no duplicate key anywhere), payload type, the
 * Ed25519 signature over DSSE PAE by a trusted, unrevoked key with the
 * `operator` role inside its validity window (before anything in the
 * command is trusted), the command schema, the robot, the time window (at
 * most 10 minutes, `issuedAt` with clock skew, expiry strict), `expect`, and
 * last the nonce (`seenNonce`).
 *
 * `envelope` may be the JSON text, its UTF-8 bytes (the gRPC `command`
 * field) or the parsed value (which cannot be checked for duplicate keys).
 * It never throws for any envelope; only an error from `seenNonce` or options
 * of the wrong type propagate.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { checkCommand, generateSigningKey, signCommand } from "./mod.ts";
 * const { privateJwk, trustStore } = await generateSigningKey("op-1", {
 *   roles: ["operator"],
 * });
 * const envelope = await signCommand({ command: "resume", robot: "arm-01" }, privateJwk);
 * const seen = new Set<string>();
 * const seenNonce = (nonce: string) => seen.has(nonce) || !seen.add(nonce);
 * const bytes = new TextEncoder().encode(JSON.stringify(envelope));
 * const first = await checkCommand(bytes, { trustStore, robotId: "arm-01", seenNonce });
 * equal(first.ok, true);
 * const again = await checkCommand(bytes, { trustStore, robotId: "arm-01", seenNonce });
 * equal(again.ok ? "" : again.reason, "replayed_nonce");
 * ```
 */
export async function checkCommand(
  envelope: unknown,
  options: CommandCheckOptions,
): Promise<CommandCheck> {
  if (typeof options?.seenNonce !== "function") {
    throw new TypeError(
      "Cannot check operator command: options.seenNonce must be a function",
    );
  }
  _assertCheckOptions(options, "operator command");
  let checked: { command: OperatorCommand; keyId: string } | _Refusal;
  try {
    checked = await _verify(envelope, options);
  } catch (error) {
    // Defensive: no known input gets here, but the check must never throw.
    return _refuse(
      "bad_envelope",
      `the command could not be checked (${_errorText(error)})`,
    );
  }
  if ("reason" in checked) return checked;
  const { command } = checked;
  if (await options.seenNonce(command.nonce, new Date(command.expiresAt))) {
    return _refuse(
      "replayed_nonce",
      `nonce ${_show(command.nonce)} was used before`,
      "nonce",
    );
  }
  return { ok: true, command, keyId: checked.keyId };
}

async function _verify(
  input: unknown,
  options: CommandCheckOptions,
): Promise<{ command: OperatorCommand; keyId: string } | _Refusal> {
  const read = _readDsseEnvelope(
    input,
    options.maxBytes ?? DEFAULT_COMMAND_MAX_BYTES,
  );
  if ("fault" in read) return _fromFault(read);
  const { envelope } = read;
  if (envelope.payloadType !== COMMAND_PAYLOAD_TYPE) {
    return _refuse(
      "wrong_type",
      `payloadType must be "${COMMAND_PAYLOAD_TYPE}", got ${
        _show(envelope.payloadType)
      }`,
      "payloadType",
    );
  }
  const payload = decodeBase64(envelope.payload);
  if (payload === undefined) {
    return _refuse(
      "bad_envelope",
      `payload is not standard base64 (got ${_show(envelope.payload, 24)})`,
      "payload",
    );
  }
  const now = options.now ?? new Date();
  const skew = options.clockSkewMs ?? 60_000;
  const signed = await _verifyDsseSignatures(
    envelope.signatures,
    pae(COMMAND_PAYLOAD_TYPE, payload),
    { trustStore: options.trustStore, role: OPERATOR_ROLE, now, skew },
  );
  if ("fault" in signed) return _fromFault(signed);

  const parsed = _payloadValue(
    _parseDssePayload(payload),
    _OperatorCommandSchema,
    "command",
  );
  if ("fault" in parsed) return _fromFault(parsed);
  const command = parsed.value;
  if (command.robot !== options.robotId) {
    return _refuse(
      "wrong_robot",
      `it is for robot ${_show(command.robot)}, this is ${
        _show(options.robotId)
      }`,
      "robot",
    );
  }
  const issuedAt = Date.parse(command.issuedAt);
  const expiresAt = Date.parse(command.expiresAt);
  if (!(expiresAt - issuedAt <= MAX_COMMAND_WINDOW_MS)) {
    return _refuse(
      "window_too_long",
      `it is valid from ${command.issuedAt} to ${command.expiresAt}, longer than ${
        MAX_COMMAND_WINDOW_MS / 60_000
      } minutes`,
      "expiresAt",
    );
  }
  const late = _timeWindow(command, now, skew);
  if (late !== undefined) return _fromFault(late);
  const mismatch = _mismatch(command, options.expect);
  if (mismatch !== undefined) return mismatch;
  return { command, keyId: signed.keyId };
}

function _mismatch(
  command: OperatorCommand,
  expect: CommandCheckOptions["expect"],
): _Refusal | undefined {
  if (expect === undefined) return undefined;
  if (command.command !== expect.command) {
    return _refuse(
      "wrong_command",
      `it is a ${_show(command.command)} command, this call needs ${
        _show(expect.command)
      }`,
      "command",
    );
  }
  if (
    expect.programId !== undefined && command.programId !== expect.programId
  ) {
    return _refuse(
      "wrong_command",
      `it is for program ${
        _show(command.programId ?? "(none)")
      }, this call runs ${_show(expect.programId)}`,
      "programId",
    );
  }
  if (
    command.version !== undefined && command.version !== expect.version
  ) {
    return _refuse(
      "wrong_command",
      `it is for version ${command.version}, this call runs ${
        expect.version === undefined
          ? "an unnamed version"
          : `version ${expect.version}`
      }`,
      "version",
    );
  }
  return undefined;
}

/** The reason each DSSE fault is refused with, in the command contract's words. */
const _FAULT_REASONS: { readonly [F in _DsseFault]: CommandRejectReason } = {
  too_large: "too_large",
  malformed: "bad_envelope",
  malformed_payload: "bad_command",
  duplicate_key: "duplicate_key",
  expired: "expired",
  not_yet_valid: "not_yet_valid",
  unknown_key: "unknown_key",
  revoked_key: "revoked_key",
  missing_role: "missing_role",
  key_expired: "expired",
  key_not_yet_valid: "not_yet_valid",
  bad_encoding: "bad_signature",
  bad_signature: "bad_signature",
};

function _fromFault(refusal: _DsseRefusal): _Refusal {
  return _refuse(_FAULT_REASONS[refusal.fault], refusal.why, refusal.field);
}

function _refuse(
  reason: CommandRejectReason,
  why: string,
  field?: string,
): _Refusal {
  return _refusal(reason, `Cannot accept operator command: ${why}`, field);
}
