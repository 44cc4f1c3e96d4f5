import { z } from "zod";
import { decodeBase64 } from "./dsse.ts";
import type { TrustedKey, TrustStore } from "./trust_store.ts";
import { parseStrictJson } from "./parse_strict_json.ts";
import { _describeZodError, _fieldPath, _show } from "./_zod_issue.ts";

/**
 * Shared by the program envelope and the operator command checks: reading a
 * DSSE envelope strictly and verifying its signatures against the trust store.
 * Each caller maps these faults onto its own reason codes and messages.
 */

/** Why an envelope could not be read or its signatures did not verify. */
export type _DsseFault =
  | "too_large"
  | "malformed"
  | "malformed_payload"
  | "duplicate_key"
  | "expired"
  | "not_yet_valid"
  | "unknown_key"
  | "revoked_key"
  | "missing_role"
  | "key_expired"
  | "key_not_yet_valid"
  | "bad_encoding"
  | "bad_signature";

/** A fault with a sentence (no subject) and the offending field. */
export interface _DsseRefusal {
  fault: _DsseFault;
  why: string;
  field?: string;
}

/** A check's refusal: its reason, `Cannot accept <subject>: <why>`, and the offending field. */
export interface _Refusal<R> {
  ok: false;
  reason: R;
  message: string;
  field?: string;
}

/** Builds a refusal; the field is left out when it is not known. */
export function _refusal<R>(
  reason: R,
  message: string,
  field: string | undefined,
): _Refusal<R> {
  return field === undefined
    ? { ok: false, reason, message }
    : { ok: false, reason, message, field };
}

const _MAX_SIGNATURES = 16;
const _ED25519_SIGNATURE_BYTES = 64;

const _EnvelopeShape = z.object({
  payloadType: z.string().max(256),
  payload: z.string(),
  signatures: z.array(z.object({
    keyid: z.string().max(256),
    sig: z.string().max(1_024),
  })).min(1, "must hold at least one signature").max(
    _MAX_SIGNATURES,
    `must hold at most ${_MAX_SIGNATURES} signatures`,
  ),
});
/** The envelope fields the checks read. */
export type _EnvelopeShape = z.infer<typeof _EnvelopeShape>;

/**
 * Reads an envelope given as JSON text, UTF-8 bytes or a parsed value:
 * bounded size, strict JSON (no duplicate key) and the DSSE shape.
 */
export function _readDsseEnvelope(
  input: unknown,
  maxBytes: number,
): { envelope: _EnvelopeShape } | _DsseRefusal {
  let value: unknown = input;
  let text: string | undefined;
  if (input instanceof ArrayBuffer) value = new Uint8Array(input);
  if (value instanceof Uint8Array) {
    if (value.byteLength > maxBytes) {
      return _tooLarge(value.byteLength, maxBytes);
    }
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(value);
    } catch {
      return { fault: "malformed", why: "the envelope is not UTF-8 text" };
    }
  } else if (typeof value === "string") {
    text = value;
  }
  if (text !== undefined) {
    // A UTF-8 encoding is never shorter than its UTF-16 length.
    if (text.length > maxBytes) {
      return _tooLarge(text.length, maxBytes, "lowerBound");
    }
    const bytes = new TextEncoder().encode(text).byteLength;
    if (bytes > maxBytes) return _tooLarge(bytes, maxBytes);
    const parsed = parseStrictJson(text);
    if (!parsed.ok) {
      return parsed.reason === "duplicate_key"
        ? {
          fault: "duplicate_key",
          why: `the envelope has a ${parsed.message}`,
        }
        : {
          fault: "malformed",
          why: `the envelope is not JSON (${parsed.message})`,
        };
    }
    value = parsed.value;
  }
  const shape = _EnvelopeShape.safeParse(value, { reportInput: true });
  if (!shape.success) {
    const { field, message } = _describeZodError(shape.error, "the envelope");
    return {
      fault: "malformed",
      why: `the envelope is not a DSSE envelope: ${message}`,
      ...(field === "" ? {} : { field }),
    };
  }
  if (text === undefined) {
    const bytes =
      new TextEncoder().encode(JSON.stringify(shape.data)).byteLength;
    if (bytes > maxBytes) return _tooLarge(bytes, maxBytes);
  }
  return { envelope: shape.data };
}

/** What a signature check needs besides the signature. */
export interface _SignatureContext {
  trustStore: TrustStore;
  /** The role the signing key must hold. */
  role: string;
  now: Date;
  skew: number;
}

/**
 * Verifies the envelope's signatures over `signed` (the PAE bytes): the first
 * one by a known, unrevoked key with the role, inside its window, that
 * verifies wins. When none does, the one that got furthest through the checks
 * (unknown → revoked → role → key window → encoding → signature) gives the
 * refusal.
 */
export async function _verifyDsseSignatures(
  signatures: readonly { keyid: string; sig: string }[],
  signed: Uint8Array<ArrayBuffer>,
  context: _SignatureContext,
): Promise<{ keyId: string } | _DsseRefusal> {
  let best: { rank: number; refusal: _DsseRefusal } | undefined;
  for (const [i, signature] of signatures.entries()) {
    const outcome = await _checkSignature(signature, i, signed, context);
    if (outcome === "verified") return { keyId: signature.keyid };
    if (best === undefined || outcome.rank > best.rank) best = outcome;
  }
  return best?.refusal ??
    {
      fault: "bad_signature",
      why: "no signature verifies",
      field: "signatures",
    };
}

async function _checkSignature(
  signature: { keyid: string; sig: string },
  index: number,
  signed: Uint8Array<ArrayBuffer>,
  context: _SignatureContext,
): Promise<"verified" | { rank: number; refusal: _DsseRefusal }> {
  const { now, skew, role } = context;
  const keyField = _fieldPath(["signatures", index, "keyid"]);
  const sigField = _fieldPath(["signatures", index, "sig"]);
  const key = context.trustStore.keys.find((k) => k.keyId === signature.keyid);
  const label = `key ${_show(signature.keyid)}`;
  const ranked = (
    rank: number,
    fault: _DsseFault,
    why: string,
    field: string,
  ) => ({
    rank,
    refusal: { fault, why, field },
  });
  if (key === undefined) {
    return ranked(
      1,
      "unknown_key",
      `${label} is not in the trust store`,
      keyField,
    );
  }
  if (key.revoked) {
    return ranked(2, "revoked_key", `${label} is revoked`, keyField);
  }
  if (!key.roles.includes(role)) {
    return ranked(
      3,
      "missing_role",
      `${label} does not have the role "${role}" (roles: ${
        key.roles.map((r) => _show(r)).join(", ") || "none"
      })`,
      keyField,
    );
  }
  const window = _keyWindow(key, now, skew);
  if (window !== undefined) {
    return ranked(4, window.fault, `${label} ${window.why}`, keyField);
  }
  const sig = decodeBase64(signature.sig);
  if (sig === undefined) {
    return ranked(
      5,
      "bad_encoding",
      `the signature of ${label} is not standard base64`,
      sigField,
    );
  }
  if (sig.byteLength !== _ED25519_SIGNATURE_BYTES) {
    return ranked(
      6,
      "bad_signature",
      `the signature of ${label} is ${sig.byteLength} bytes, an Ed25519 signature is ${_ED25519_SIGNATURE_BYTES}`,
      sigField,
    );
  }
  let valid = false;
  try {
    const publicKey = await crypto.subtle.importKey(
      "jwk",
      { kty: "OKP", crv: "Ed25519", x: key.publicKeyJwk.x },
      { name: "Ed25519" },
      false,
      ["verify"],
    );
    valid = await crypto.subtle.verify("Ed25519", publicKey, sig, signed);
  } catch (error) {
    return ranked(
      6,
      "bad_signature",
      `the signature of ${label} cannot be checked (${_errorText(error)})`,
      sigField,
    );
  }
  if (valid) return "verified";
  return ranked(
    6,
    "bad_signature",
    `the signature of ${label} does not match the payload`,
    sigField,
  );
}

function _keyWindow(
  key: TrustedKey,
  now: Date,
  skew: number,
): { fault: "key_expired" | "key_not_yet_valid"; why: string } | undefined {
  const nowMs = now.getTime();
  if (
    key.notAfter !== undefined && !(Date.parse(key.notAfter) >= nowMs - skew)
  ) {
    return { fault: "key_expired", why: `is valid only until ${key.notAfter}` };
  }
  if (
    key.notBefore !== undefined && !(Date.parse(key.notBefore) <= nowMs + skew)
  ) {
    return {
      fault: "key_not_yet_valid",
      why: `is valid only from ${key.notBefore}`,
    };
  }
  return undefined;
}

/** Decodes a verified payload as UTF-8 strict JSON. */
export function _parseDssePayload(
  payload: Uint8Array,
):
  | { ok: true; value: unknown }
  | { ok: false; duplicate: boolean; why: string } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(payload);
  } catch {
    return { ok: false, duplicate: false, why: "not UTF-8" };
  }
  const parsed = parseStrictJson(text);
  if (parsed.ok) return parsed;
  return {
    ok: false,
    duplicate: parsed.reason === "duplicate_key",
    why: parsed.message,
  };
}

function _tooLarge(
  size: number,
  maxBytes: number,
  lowerBound?: "lowerBound",
): _DsseRefusal {
  const at = lowerBound === undefined ? "" : "at least ";
  return {
    fault: "too_large",
    why: `the envelope is ${at}${size} bytes, the limit is ${maxBytes}`,
  };
}

/** A short message of a caught error. */
export function _errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

/** Throws a `TypeError` for check options of the wrong type (`what`: "envelope", "operator command"). */
export function _assertCheckOptions(
  options: {
    robotId: string;
    trustStore: TrustStore;
    now?: Date;
    clockSkewMs?: number;
  },
  what: string,
): void {
  if (
    typeof options?.robotId !== "string" ||
    !Array.isArray(options.trustStore?.keys)
  ) {
    throw new TypeError(
      `Cannot check ${what}: options.robotId must be a string and options.trustStore a parsed trust store`,
    );
  }
  if (options.now !== undefined && Number.isNaN(options.now.getTime())) {
    throw new TypeError(`Cannot check ${what}: options.now is an invalid date`);
  }
  if (
    options.clockSkewMs !== undefined &&
    !(options.clockSkewMs >= 0 && options.clockSkewMs <= 86_400_000)
  ) {
    throw new TypeError(
      `Cannot check ${what}: options.clockSkewMs must be 0 to 86400000, got ${options.clockSkewMs}`,
    );
  }
}

/**
 * A verified payload, parsed as strict JSON, checked against its schema
 * (`what` names it: "manifest", "command"). Faults: `duplicate_key`, or
 * `malformed_payload` naming the field.
 */
export function _payloadValue<T>(
  parsed: ReturnType<typeof _parseDssePayload>,
  schema: z.ZodType<T>,
  what: string,
): { value: T } | _DsseRefusal {
  if (!parsed.ok) {
    return parsed.duplicate
      ? {
        fault: "duplicate_key",
        why: `the ${what} has a ${parsed.why}`,
        field: "payload",
      }
      : {
        fault: "malformed_payload",
        why: `the payload is not a JSON ${what} (${parsed.why})`,
        field: "payload",
      };
  }
  const result = schema.safeParse(parsed.value, { reportInput: true });
  if (!result.success) {
    const { field, message } = _describeZodError(result.error, `the ${what}`);
    return {
      fault: "malformed_payload",
      why: `the ${what} is invalid: ${message}`,
      field: field === "" ? "payload" : field,
    };
  }
  return { value: result.data };
}

/**
 * The time window of a signed payload: expired (strict, `expiresAt` past)
 * or not yet valid (`issuedAt` later than now plus the skew). Negated
 * comparisons fail closed on NaN.
 */
export function _timeWindow(
  signed: { issuedAt: string; expiresAt: string },
  now: Date,
  skew: number,
): _DsseRefusal | undefined {
  const nowMs = now.getTime();
  if (!(Date.parse(signed.expiresAt) > nowMs)) {
    return {
      fault: "expired",
      why: `expiresAt ${signed.expiresAt} is past (now ${now.toISOString()})`,
      field: "expiresAt",
    };
  }
  if (!(Date.parse(signed.issuedAt) <= nowMs + skew)) {
    return {
      fault: "not_yet_valid",
      why:
        `issuedAt ${signed.issuedAt} is in the future (now ${now.toISOString()})`,
      field: "issuedAt",
    };
  }
  return undefined;
}
