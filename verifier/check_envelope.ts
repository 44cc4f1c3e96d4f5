import { z } from "zod";
import { decodeBase64, pae, PROGRAM_PAYLOAD_TYPE } from "./dsse.ts";
import { Manifest } from "./manifest.ts";
import {
  PROGRAM_SIGNER_ROLE,
  type TrustedKey,
  type TrustStore,
} from "./trust_store.ts";
import { _describeZodError, _fieldPath, _show } from "./_zod_issue.ts";

/** Why {@linkcode checkEnvelope} refused an envelope. */
export type EnvelopeRejectReason =
  | "malformed_envelope"
  | "too_large"
  | "bad_payload_type"
  | "bad_encoding"
  | "malformed_manifest"
  | "unknown_key"
  | "revoked_key"
  | "key_not_authorized"
  | "bad_signature"
  | "expired"
  | "not_yet_valid"
  | "replayed_version"
  | "wrong_robot"
  | "budget_above_caps"
  | "api_mismatch";

/** The robot's own resource caps; a manifest's budgets may not exceed them. */
export interface EnvelopeCaps {
  timeoutMs: number;
  memoryBytes: number;
  maxSkillCalls: number;
}

/** What the robot remembers of the last program version it accepted for a `programId`. */
export interface AcceptedVersion {
  version: number;
  /** Lower-case hex SHA-256 of the raw manifest bytes (the decoded payload). */
  payloadSha256: string;
}

/** Options of {@linkcode checkEnvelope}. */
export interface EnvelopeCheckOptions {
  /** The keys the robot trusts (see `parseTrustStore`). */
  trustStore: TrustStore;
  /** This robot's id; the manifest's `robots` must hold it or `"*"`. */
  robotId: string;
  /** The current time; default `new Date()`. */
  now?: Date;
  /** Tolerated clock difference for `issuedAt` and key windows (expiry is strict); default 60 000 ms. */
  clockSkewMs?: number;
  /** The robot's skill API version; a manifest for another one is refused (`api_mismatch`). */
  apiVersion?: string;
  /** The robot's caps; a manifest budget above one is refused (`budget_above_caps`). */
  caps?: EnvelopeCaps;
  /**
   * The last accepted version of a program (replay state is kept durable by the
   * caller). An error it throws propagates out of `checkEnvelope`.
   */
  lastAccepted?: (programId: string) => AcceptedVersion | undefined;
  /** Largest accepted envelope, in bytes of its JSON text; default 1 MiB. */
  maxBytes?: number;
}

/** The outcome of {@linkcode checkEnvelope}. */
export type EnvelopeCheck =
  | {
    ok: true;
    /** The verified manifest. */
    manifest: Manifest;
    /** The trusted key whose signature verified. */
    keyId: string;
    /** Lower-case hex SHA-256 of the raw manifest bytes, for the replay state. */
    payloadSha256: string;
    /** `true` for a byte-identical re-delivery of the last accepted version. */
    idempotent: boolean;
  }
  | {
    ok: false;
    reason: EnvelopeRejectReason;
    /** `Cannot accept program "<programId>": <why>, naming the field and value`. */
    message: string;
    /** The offending field, e.g. `signatures[0].keyid` or `budgets.timeoutMs`. */
    field?: string;
  };

/** Default largest envelope: 1 MiB of JSON text. */
export const DEFAULT_ENVELOPE_MAX_BYTES = 1024 * 1024;
/** Default tolerated clock difference: one minute. */
export const DEFAULT_CLOCK_SKEW_MS = 60_000;

const _MAX_SIGNATURES = 16;
const _ED25519_SIGNATURE_BYTES = 64;
const _MAX_MANIFEST_DEPTH = 32;
const _PROGRAM_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

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
type _EnvelopeShape = z.infer<typeof _EnvelopeShape>;

type _Refusal = Extract<EnvelopeCheck, { ok: false }>;
type _Verified = {
  ok: true;
  manifest: Manifest;
  keyId: string;
  payloadSha256: string;
};

/**
 * Checks a signed program envelope (design "Signed programs") against the
 * robot's trust store and state: envelope shape and size, payload type,
 * base64, the Ed25519 signature over DSSE PAE by a trusted, unrevoked
 * `program-signer` key (before anything in the manifest is trusted), the
 * manifest schema, API version, robot target, `issuedAt`/`expiresAt` with
 * clock skew, budgets against the caps, and replay (a version must be above
 * the last accepted one unless the payload is byte-identical, which is an
 * idempotent re-delivery).
 *
 * `envelope` may be the JSON text, its UTF-8 bytes or the parsed value. It
 * never throws for any envelope: every problem is a refusal with a reason, a
 * message naming the field and the field's path. When several signatures fail,
 * the one that got furthest through the checks (unknown → revoked → role → key
 * validity → encoding → signature) gives the reason. Only an error thrown by
 * `options.lastAccepted`, or options of the wrong type, propagate.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { checkEnvelope, generateSigningKey, signManifest } from "./mod.ts";
 * const { privateJwk, trustStore } = await generateSigningKey("k1");
 * const envelope = await signManifest({
 *   programId: "hello", version: 1, source: 'say("hi");', instruction: null,
 *   apiVersion: "tabletop/1", robots: ["*"],
 *   issuedAt: "2026-01-01T00:00:00Z", expiresAt: "2027-01-01T00:00:00Z",
 *   budgets: { timeoutMs: 10000, memoryBytes: 16777216, maxSkillCalls: 10 },
 *   checks: [], provenance: { model: "human", attempts: 1 },
 * }, privateJwk);
 * const check = await checkEnvelope(JSON.stringify(envelope), {
 *   trustStore, robotId: "arm-01", now: new Date("2026-06-01T00:00:00Z"),
 * });
 * equal(check.ok, true);
 * ```
 */
export async function checkEnvelope(
  envelope: unknown,
  options: EnvelopeCheckOptions,
): Promise<EnvelopeCheck> {
  if (
    typeof options?.robotId !== "string" ||
    !Array.isArray(options.trustStore?.keys)
  ) {
    throw new TypeError(
      "Cannot check envelope: options.robotId must be a string and options.trustStore a parsed trust store",
    );
  }
  if (options.now !== undefined && Number.isNaN(options.now.getTime())) {
    throw new TypeError(
      "Cannot check envelope: options.now is an invalid date",
    );
  }
  if (
    options.clockSkewMs !== undefined &&
    !(options.clockSkewMs >= 0 && options.clockSkewMs <= 86_400_000)
  ) {
    throw new TypeError(
      `Cannot check envelope: options.clockSkewMs must be 0 to 86400000, got ${options.clockSkewMs}`,
    );
  }
  let verified: _Verified | _Refusal;
  try {
    verified = await _verify(envelope, options);
  } catch (error) {
    // Defensive: no known input gets here, but the check must never throw.
    return _refuse(
      "malformed_envelope",
      undefined,
      `the envelope could not be checked (${_errorText(error)})`,
    );
  }
  if (!verified.ok) return verified;
  const { manifest, payloadSha256 } = verified;
  const last = options.lastAccepted?.(manifest.programId);
  if (last !== undefined) {
    if (last.payloadSha256 === payloadSha256) {
      return { ...verified, idempotent: true };
    }
    if (manifest.version <= last.version) {
      return _refuse(
        "replayed_version",
        manifest.programId,
        `version ${manifest.version} is not above the last accepted version ${last.version}${
          manifest.version === last.version ? " and its bytes differ" : ""
        }`,
        "version",
      );
    }
  }
  return { ...verified, idempotent: false };
}

async function _verify(
  input: unknown,
  options: EnvelopeCheckOptions,
): Promise<_Verified | _Refusal> {
  const maxBytes = options.maxBytes ?? DEFAULT_ENVELOPE_MAX_BYTES;
  const read = _readEnvelope(input, maxBytes);
  if ("reason" in read) return read;
  const envelope = read.envelope;

  if (envelope.payloadType !== PROGRAM_PAYLOAD_TYPE) {
    return _refuse(
      "bad_payload_type",
      undefined,
      `payloadType must be "${PROGRAM_PAYLOAD_TYPE}", got ${
        _show(envelope.payloadType)
      }`,
      "payloadType",
    );
  }
  const payload = decodeBase64(envelope.payload);
  if (payload === undefined) {
    return _refuse(
      "bad_encoding",
      undefined,
      `payload is not standard base64 (got ${
        _show(envelope.payload, 24)
      }, ${envelope.payload.length} characters)`,
      "payload",
    );
  }

  // Parsed now, trusted only after a signature verifies; until then the
  // claimed programId only names the program in messages.
  const claimed = _parsePayload(payload);
  const name = claimed.ok ? _claimedProgramId(claimed.value) : undefined;

  const now = options.now ?? new Date();
  const skew = options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
  const signed = pae(PROGRAM_PAYLOAD_TYPE, payload);
  let best: { rank: number; refusal: _Refusal } | undefined;
  let keyId: string | undefined;
  for (const [i, signature] of envelope.signatures.entries()) {
    const outcome = await _checkSignature(signature, i, signed, {
      trustStore: options.trustStore,
      now,
      skew,
      name,
    });
    if (outcome === "verified") {
      keyId = signature.keyid;
      break;
    }
    if (best === undefined || outcome.rank > best.rank) best = outcome;
  }
  if (keyId === undefined) {
    return best?.refusal ??
      _refuse("bad_signature", name, "no signature verifies", "signatures");
  }

  if (!claimed.ok) {
    return _refuse(
      "malformed_manifest",
      name,
      `the payload is not a JSON manifest (${claimed.why})`,
      "payload",
    );
  }
  if (_depthAbove(claimed.value, _MAX_MANIFEST_DEPTH)) {
    return _refuse(
      "malformed_manifest",
      name,
      `the manifest nests deeper than ${_MAX_MANIFEST_DEPTH} levels`,
      "payload",
    );
  }
  const parsed = Manifest.safeParse(claimed.value, { reportInput: true });
  if (!parsed.success) {
    const { field, message } = _describeZodError(parsed.error, "the manifest");
    return _refuse(
      "malformed_manifest",
      name,
      `the manifest is invalid: ${message}`,
      field === "" ? "payload" : field,
    );
  }
  const manifest = parsed.data;
  const id = manifest.programId;

  if (
    options.apiVersion !== undefined &&
    manifest.apiVersion !== options.apiVersion
  ) {
    return _refuse(
      "api_mismatch",
      id,
      `apiVersion ${_show(manifest.apiVersion)} is not the robot's API ${
        _show(options.apiVersion)
      }`,
      "apiVersion",
    );
  }
  if (
    !manifest.robots.includes("*") && !manifest.robots.includes(options.robotId)
  ) {
    const listed = manifest.robots.slice(0, 5).map((r) => _show(r)).join(", ");
    return _refuse(
      "wrong_robot",
      id,
      `robots [${listed}${
        manifest.robots.length > 5 ? ", …" : ""
      }] does not include this robot ${_show(options.robotId)}`,
      "robots",
    );
  }
  const nowMs = now.getTime();
  const expiresAt = Date.parse(manifest.expiresAt);
  // Negated comparisons fail closed on NaN. Expiry is strict: an expired
  // program never runs; the skew only forgives a signer whose clock is ahead
  // (issuedAt in the robot's future).
  if (!(expiresAt > nowMs)) {
    return _refuse(
      "expired",
      id,
      `expiresAt ${manifest.expiresAt} is past (now ${now.toISOString()})`,
      "expiresAt",
    );
  }
  const issuedAt = Date.parse(manifest.issuedAt);
  if (!(issuedAt <= nowMs + skew)) {
    return _refuse(
      "not_yet_valid",
      id,
      `issuedAt ${manifest.issuedAt} is in the future (now ${now.toISOString()})`,
      "issuedAt",
    );
  }
  if (options.caps !== undefined) {
    for (
      const budget of ["timeoutMs", "memoryBytes", "maxSkillCalls"] as const
    ) {
      const asked = manifest.budgets[budget];
      const cap = options.caps[budget];
      if (asked > cap) {
        return _refuse(
          "budget_above_caps",
          id,
          `budgets.${budget} ${asked} is above the robot's cap ${cap}`,
          `budgets.${budget}`,
        );
      }
    }
  }
  const digest = await crypto.subtle.digest("SHA-256", payload);
  return { ok: true, manifest, keyId, payloadSha256: _hex(digest) };
}

function _readEnvelope(
  input: unknown,
  maxBytes: number,
): { envelope: _EnvelopeShape } | _Refusal {
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
      return _refuse(
        "malformed_envelope",
        undefined,
        "the envelope is not UTF-8 text",
      );
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
    try {
      value = JSON.parse(text);
    } catch (error) {
      return _refuse(
        "malformed_envelope",
        undefined,
        `the envelope is not JSON (${_errorText(error)})`,
      );
    }
  }
  const shape = _EnvelopeShape.safeParse(value, { reportInput: true });
  if (!shape.success) {
    const { field, message } = _describeZodError(shape.error, "the envelope");
    return _refuse(
      "malformed_envelope",
      undefined,
      `the envelope is not a DSSE envelope: ${message}`,
      ...(field === "" ? [] : [field]),
    );
  }
  if (text === undefined) {
    const bytes =
      new TextEncoder().encode(JSON.stringify(shape.data)).byteLength;
    if (bytes > maxBytes) return _tooLarge(bytes, maxBytes);
  }
  return { envelope: shape.data };
}

interface _SignatureContext {
  trustStore: TrustStore;
  now: Date;
  skew: number;
  name: string | undefined;
}

async function _checkSignature(
  signature: { keyid: string; sig: string },
  index: number,
  signed: Uint8Array<ArrayBuffer>,
  context: _SignatureContext,
): Promise<"verified" | { rank: number; refusal: _Refusal }> {
  const { name, now, skew } = context;
  const keyField = _fieldPath(["signatures", index, "keyid"]);
  const sigField = _fieldPath(["signatures", index, "sig"]);
  const key = context.trustStore.keys.find((k) => k.keyId === signature.keyid);
  const label = `key ${_show(signature.keyid)}`;
  if (key === undefined) {
    return _ranked(
      1,
      "unknown_key",
      name,
      `${label} is not in the trust store`,
      keyField,
    );
  }
  if (key.revoked) {
    return _ranked(2, "revoked_key", name, `${label} is revoked`, keyField);
  }
  if (!key.roles.includes(PROGRAM_SIGNER_ROLE)) {
    return _ranked(
      3,
      "key_not_authorized",
      name,
      `${label} does not have the role "${PROGRAM_SIGNER_ROLE}" (roles: ${
        key.roles.map((r) => _show(r)).join(", ") || "none"
      })`,
      keyField,
    );
  }
  const window = _keyWindow(key, now, skew);
  if (window !== undefined) {
    return _ranked(4, window.reason, name, `${label} ${window.why}`, keyField);
  }
  const sig = decodeBase64(signature.sig);
  if (sig === undefined) {
    return _ranked(
      5,
      "bad_encoding",
      name,
      `the signature of ${label} is not standard base64`,
      sigField,
    );
  }
  if (sig.byteLength !== _ED25519_SIGNATURE_BYTES) {
    return _ranked(
      6,
      "bad_signature",
      name,
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
    return _ranked(
      6,
      "bad_signature",
      name,
      `the signature of ${label} cannot be checked (${_errorText(error)})`,
      sigField,
    );
  }
  if (valid) return "verified";
  return _ranked(
    6,
    "bad_signature",
    name,
    `the signature of ${label} does not match the payload`,
    sigField,
  );
}

function _keyWindow(
  key: TrustedKey,
  now: Date,
  skew: number,
): { reason: "expired" | "not_yet_valid"; why: string } | undefined {
  const nowMs = now.getTime();
  if (
    key.notAfter !== undefined && !(Date.parse(key.notAfter) >= nowMs - skew)
  ) {
    return { reason: "expired", why: `is valid only until ${key.notAfter}` };
  }
  if (
    key.notBefore !== undefined && !(Date.parse(key.notBefore) <= nowMs + skew)
  ) {
    return {
      reason: "not_yet_valid",
      why: `is valid only from ${key.notBefore}`,
    };
  }
  return undefined;
}

function _parsePayload(
  payload: Uint8Array,
): { ok: true; value: unknown } | { ok: false; why: string } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(payload);
  } catch {
    return { ok: false, why: "not UTF-8" };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, why: _errorText(error) };
  }
}

/** Whether arrays/objects in `value` nest deeper than `max` (iterative: no stack growth). */
function _depthAbove(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== "object" || item === null) continue;
    if (depth >= max) return true;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return false;
}

function _claimedProgramId(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const id = (value as { programId?: unknown }).programId;
  return typeof id === "string" && _PROGRAM_ID.test(id) ? id : undefined;
}

function _ranked(
  rank: number,
  reason: EnvelopeRejectReason,
  programId: string | undefined,
  why: string,
  field: string,
): { rank: number; refusal: _Refusal } {
  return { rank, refusal: _refuse(reason, programId, why, field) };
}

function _refuse(
  reason: EnvelopeRejectReason,
  programId: string | undefined,
  why: string,
  field?: string,
): _Refusal {
  const subject = programId === undefined
    ? "program"
    : `program "${programId}"`;
  const message = `Cannot accept ${subject}: ${why}`;
  return field === undefined
    ? { ok: false, reason, message }
    : { ok: false, reason, message, field };
}

function _tooLarge(
  size: number,
  maxBytes: number,
  lowerBound?: "lowerBound",
): _Refusal {
  const at = lowerBound === undefined ? "" : "at least ";
  return _refuse(
    "too_large",
    undefined,
    `the envelope is ${at}${size} bytes, the limit is ${maxBytes}`,
  );
}

function _errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

function _hex(buffer: ArrayBuffer): string {
  return Array.from(
    new Uint8Array(buffer),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}
