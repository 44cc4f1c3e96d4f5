import { z } from "zod";
import type { Schema } from "./schema.ts";
import { parseStrictJson } from "./parse_strict_json.ts";
import { _describeZodError } from "./_zod_issue.ts";

/** The role a key needs to sign programs. */
export const PROGRAM_SIGNER_ROLE = "program-signer";

/** An Ed25519 public key as a JWK (RFC 8037); other JWK members are kept. */
export interface PublicKeyJwk {
  /** Always `"OKP"`. */
  kty: "OKP";
  /** Always `"Ed25519"`. */
  crv: "Ed25519";
  /** The 32-byte public key in unpadded base64url. */
  x: string;
  /** Other JWK members (never `d`). */
  [member: string]: unknown;
}
const _PublicKeyJwk = z.looseObject({
  kty: z.literal("OKP"),
  crv: z.literal("Ed25519"),
  x: z.string().regex(
    /^[A-Za-z0-9_-]{43}$/,
    "must be the 32-byte public key in unpadded base64url (43 characters)",
  ),
}).refine((jwk) => !("d" in jwk), {
  message:
    "holds a private key (member d); a trust store keeps public keys only",
});
/** The schema of an Ed25519 public JWK. */
export const PublicKeyJwk: Schema<PublicKeyJwk> = _PublicKeyJwk;

/**
 * One trusted key: its id (the DSSE `keyid`), its public key, its roles
 * (`program-signer` may sign programs, `operator` may sign commands), whether it is revoked, and an optional
 * validity window.
 */
export interface TrustedKey {
  /** The key's id, the DSSE `keyid`. */
  keyId: string;
  /** The public key. */
  publicKeyJwk: PublicKeyJwk;
  /** What it may sign: `program-signer`, `operator`. */
  roles: string[];
  /** A revoked key's signatures are refused as revoked. */
  revoked: boolean;
  /** ISO 8601 start of its validity, if bounded. */
  notBefore?: string | undefined;
  /** ISO 8601 end of its validity, if bounded. */
  notAfter?: string | undefined;
  /** A note for people. */
  comment?: string | undefined;
}
const _TrustedKey = z.strictObject({
  keyId: z.string().regex(
    /^[A-Za-z0-9_.:-]{1,128}$/,
    "must be 1-128 characters of letters, digits, '_', '.', ':' or '-'",
  ),
  publicKeyJwk: _PublicKeyJwk,
  roles: z.array(z.string().min(1).max(64)).max(32),
  revoked: z.boolean().default(false),
  notBefore: z.iso.datetime({ offset: true }).optional(),
  notAfter: z.iso.datetime({ offset: true }).optional(),
  comment: z.string().max(1_000).optional(),
});
/** The schema of one trusted key of a trust store. */
export const TrustedKey: Schema<TrustedKey> = _TrustedKey;

/**
 * The robot's trust store file:
 *
 * ```json
 * { "keys": [{ "keyId": "k1",
 *              "publicKeyJwk": { "kty": "OKP", "crv": "Ed25519", "x": "…" },
 *              "roles": ["program-signer"],
 *              "revoked": false,
 *              "notBefore": "2026-01-01T00:00:00Z", "notAfter": "2027-01-01T00:00:00Z" }] }
 * ```
 *
 * `revoked` defaults to `false`; `notBefore`, `notAfter` and `comment` are
 * optional. Key ids are unique. Only keys with the role `program-signer` may
 * sign programs, and only keys with the role `operator` may sign operator
 * commands; a revoked key stays listed so that its signatures are
 * refused as revoked rather than unknown.
 */
export interface TrustStore {
  /** The trusted keys, each id once. */
  keys: TrustedKey[];
}
const _TrustStore = z.strictObject({
  keys: z.array(_TrustedKey).max(1_000).superRefine((keys, ctx) => {
    const seen = new Set<string>();
    keys.forEach((key, i) => {
      if (seen.has(key.keyId)) {
        ctx.addIssue({
          code: "custom",
          path: [i, "keyId"],
          message: `duplicates key id "${key.keyId}"`,
        });
      }
      seen.add(key.keyId);
    });
  }),
});
/** The schema of the robot's trust store file (see the `TrustStore` interface for the format). */
export const TrustStore: Schema<TrustStore> = _TrustStore;

/**
 * Parses trust store file contents (the JSON text or the parsed value).
 * Throws a `TypeError` naming the field that is wrong; JSON text with a
 * duplicate key is refused.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * import { parseTrustStore } from "./trust_store.ts";
 * parseTrustStore({ keys: [] });
 * throws(() => parseTrustStore({ keys: [{ keyId: "k1" }] }), TypeError);
 * ```
 */
export function parseTrustStore(value: unknown): TrustStore {
  let data = value;
  if (typeof value === "string") {
    // Strict: a key listed twice (say "revoked": true, then false) would
    // make the robot trust what a reviewer reads as revoked.
    const parsed = parseStrictJson(value);
    if (!parsed.ok) {
      throw new TypeError(
        parsed.reason === "duplicate_key"
          ? `Cannot parse trust store: it has a ${parsed.message}`
          : `Cannot parse trust store: it is not JSON (${parsed.message})`,
      );
    }
    data = parsed.value;
  }
  const result = _TrustStore.safeParse(data, { reportInput: true });
  if (!result.success) {
    const { message } = _describeZodError(result.error, "the trust store");
    throw new TypeError(`Cannot parse trust store: ${message}`);
  }
  return result.data;
}
