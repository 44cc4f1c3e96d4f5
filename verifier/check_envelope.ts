import { decodeBase64, pae, PROGRAM_PAYLOAD_TYPE } from "./dsse.ts";
import { _ManifestSchema, type Manifest } from "./manifest.ts";
import { PROGRAM_SIGNER_ROLE, type TrustStore } from "./trust_store.ts";
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

/** Why {@linkcode checkEnvelope} refused an envelope. */
export type EnvelopeRejectReason =
  | "malformed_envelope"
  | "too_large"
  | "duplicate_key"
  | "bad_payload_type"
  | "bad_encoding"
  | "malformed_manifest"
  | "unknown_key"
  | "revoked_key"
  | "key_not_authorized"
  | "bad_signature"
  | "expired"
  | "not_yet_valid"
  | "lifetime_too_long"
  | "replayed_version"
  | "superseded_version"
  | "wrong_robot"
  | "budget_above_caps"
  | "api_mismatch";

/** The robot's own resource caps; a manifest's budgets may not exceed them. */
export interface EnvelopeCaps {
  /** Longest run, in milliseconds. */
  timeoutMs: number;
  /** Largest guest heap, in bytes. */
  memoryBytes: number;
  /** Most skill calls in one run. */
  maxSkillCalls: number;
}

/** What the robot remembers of the last program version it accepted for a `programId`. */
export interface AcceptedVersion {
  /** The version number. */
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
  /**
   * What the envelope is checked for; default `"deliver"`.
   *
   * - `"deliver"`: a new delivery. With `lastAccepted`, a version not above
   *   the last accepted one is refused (`replayed_version`) unless its bytes
   *   are identical (an idempotent re-delivery).
   * - `"run"`: a cached program about to run. With `lastAccepted`, only the
   *   newest accepted version may run: a lower version, or the same version
   *   with other bytes, is refused (`superseded_version`), even though it was
   *   accepted once.
   */
  purpose?: "deliver" | "run";
  /** The robot's limits on manifests. */
  limits?: EnvelopeLimits;
  /**
   * Runs the envelope's own checks somewhere else, e.g. in a worker, so that
   * reading a large envelope does not hold up the caller's event loop. It
   * gets the envelope and these options without `lastAccepted` and
   * `offload`, `now` filled in (all structured-cloneable), and must resolve
   * what `checkEnvelope` resolves for them (by calling `checkEnvelope`
   * there); the version is then checked here against `lastAccepted`.
   * Default: everything on the calling thread. An error it throws propagates
   * out of `checkEnvelope`.
   */
  offload?: (
    envelope: unknown,
    options: EnvelopeOffloadOptions,
  ) => Promise<EnvelopeCheck>;
}

/** What {@linkcode EnvelopeCheckOptions.offload} gets: the options that need no state of the caller. */
export type EnvelopeOffloadOptions =
  & Omit<EnvelopeCheckOptions, "lastAccepted" | "offload" | "now">
  & { now: Date };

/** Limits on what a manifest may ask for (service configuration `limits`). */
export interface EnvelopeLimits {
  /**
   * Longest validity, `expiresAt - issuedAt`, in days; longer manifests are
   * refused (`lifetime_too_long`). Default {@linkcode DEFAULT_MAX_MANIFEST_LIFETIME_DAYS}.
   */
  maxManifestLifetimeDays?: number;
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
/** Default longest manifest validity: 90 days. */
export const DEFAULT_MAX_MANIFEST_LIFETIME_DAYS = 90;
/** Default tolerated clock difference: one minute. */
export const DEFAULT_CLOCK_SKEW_MS = 60_000;

const _PROGRAM_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const _DAY_MS = 86_400_000;

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
 * clock skew, the manifest's lifetime against `limits`, budgets against the
 * caps, and the version against `lastAccepted` (see `purpose`: a delivery
 * must be above the last accepted version unless byte-identical, a run must
 * be the newest accepted version). The envelope and the manifest are strict
 * JSON: a duplicate key anywhere is refused (`duplicate_key`).
 *
 * `envelope` may be the JSON text, its UTF-8 bytes or the parsed value (a
 * parsed value cannot be checked for duplicate keys: pass the text). It
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
 *   issuedAt: "2026-05-01T00:00:00Z", expiresAt: "2026-07-01T00:00:00Z",
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
  _assertCheckOptions(options, "envelope");
  const lifetime = options.limits?.maxManifestLifetimeDays;
  if (lifetime !== undefined && !(lifetime > 0 && lifetime <= 36_500)) {
    throw new TypeError(
      `Cannot check envelope: options.limits.maxManifestLifetimeDays must be above 0 and at most 36500, got ${lifetime}`,
    );
  }
  if (
    options.purpose !== undefined && options.purpose !== "deliver" &&
    options.purpose !== "run"
  ) {
    throw new TypeError(
      `Cannot check envelope: options.purpose must be "deliver" or "run", got ${
        _show(options.purpose)
      }`,
    );
  }
  let verified: _Verified | _Refusal;
  if (options.offload !== undefined) {
    verified = await _offload(envelope, options, options.offload);
  } else {
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
  }
  if (!verified.ok) return verified;
  const { manifest, payloadSha256 } = verified;
  const last = options.lastAccepted?.(manifest.programId);
  if (last !== undefined) {
    const same = last.payloadSha256 === payloadSha256;
    if (options.purpose === "run") {
      if (
        manifest.version < last.version ||
        (!same && manifest.version === last.version)
      ) {
        return _refuse(
          "superseded_version",
          manifest.programId,
          `version ${manifest.version} is superseded: only the newest accepted version ${last.version} may run${
            manifest.version === last.version
              ? " and these bytes are not the ones accepted"
              : ""
          }`,
          "version",
        );
      }
      return { ...verified, idempotent: same };
    }
    if (same) return { ...verified, idempotent: true };
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

/** The envelope's own checks by `offload`; its outcome without `idempotent`, which is decided here. */
async function _offload(
  envelope: unknown,
  options: EnvelopeCheckOptions,
  offload: NonNullable<EnvelopeCheckOptions["offload"]>,
): Promise<_Verified | _Refusal> {
  const {
    lastAccepted: _lastAccepted,
    offload: _offload,
    now,
    ...stateless
  } = options;
  const check = await offload(envelope, {
    ...stateless,
    now: now ?? new Date(),
  });
  if (!check.ok) return check;
  const { manifest, keyId, payloadSha256 } = check;
  return { ok: true, manifest, keyId, payloadSha256 };
}

async function _verify(
  input: unknown,
  options: EnvelopeCheckOptions,
): Promise<_Verified | _Refusal> {
  const maxBytes = options.maxBytes ?? DEFAULT_ENVELOPE_MAX_BYTES;
  const read = _readDsseEnvelope(input, maxBytes);
  if ("fault" in read) return _fromFault(read, undefined);
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
  const claimed = _parseDssePayload(payload);
  const name = claimed.ok ? _claimedProgramId(claimed.value) : undefined;

  const now = options.now ?? new Date();
  const skew = options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
  const signed = await _verifyDsseSignatures(
    envelope.signatures,
    pae(PROGRAM_PAYLOAD_TYPE, payload),
    { trustStore: options.trustStore, role: PROGRAM_SIGNER_ROLE, now, skew },
  );
  if ("fault" in signed) return _fromFault(signed, name);
  const keyId = signed.keyId;

  const parsed = _payloadValue(claimed, _ManifestSchema, "manifest");
  if ("fault" in parsed) return _fromFault(parsed, name);
  const manifest = parsed.value;
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
  const late = _timeWindow(manifest, now, skew);
  if (late !== undefined) return _fromFault(late, id);
  const issuedAt = Date.parse(manifest.issuedAt);
  const expiresAt = Date.parse(manifest.expiresAt);
  const lifetimeDays = options.limits?.maxManifestLifetimeDays ??
    DEFAULT_MAX_MANIFEST_LIFETIME_DAYS;
  if (!(expiresAt - issuedAt <= lifetimeDays * _DAY_MS)) {
    const days = Math.ceil((expiresAt - issuedAt) / _DAY_MS);
    return _refuse(
      "lifetime_too_long",
      id,
      `the manifest is valid for ${days} days (issuedAt ${manifest.issuedAt}, expiresAt ${manifest.expiresAt}), the limit is ${lifetimeDays}`,
      "expiresAt",
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

/** The reason each DSSE fault is refused with, in the envelope contract's words. */
const _FAULT_REASONS: { readonly [F in _DsseFault]: EnvelopeRejectReason } = {
  too_large: "too_large",
  malformed: "malformed_envelope",
  malformed_payload: "malformed_manifest",
  duplicate_key: "duplicate_key",
  expired: "expired",
  not_yet_valid: "not_yet_valid",
  unknown_key: "unknown_key",
  revoked_key: "revoked_key",
  missing_role: "key_not_authorized",
  key_expired: "expired",
  key_not_yet_valid: "not_yet_valid",
  bad_encoding: "bad_encoding",
  bad_signature: "bad_signature",
};

function _fromFault(
  refusal: _DsseRefusal,
  programId: string | undefined,
): _Refusal {
  return _refuse(
    _FAULT_REASONS[refusal.fault],
    programId,
    refusal.why,
    refusal.field,
  );
}

function _claimedProgramId(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const id = (value as { programId?: unknown }).programId;
  return typeof id === "string" && _PROGRAM_ID.test(id) ? id : undefined;
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
  return _refusal(reason, `Cannot accept ${subject}: ${why}`, field);
}

function _hex(buffer: ArrayBuffer): string {
  return Array.from(
    new Uint8Array(buffer),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}
