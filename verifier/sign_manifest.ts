import { type Envelope, PROGRAM_PAYLOAD_TYPE } from "./dsse.ts";
import { _signDsse } from "./_sign_dsse.ts";
import { _ManifestSchema, type Manifest } from "./manifest.ts";
import { _describeZodError } from "./_zod_issue.ts";

/** Options of {@linkcode signManifest}. */
export interface SignManifestOptions {
  /** The DSSE `keyid`; default the private JWK's `kid`. */
  keyId?: string;
}

/**
 * Signs a program manifest: checks it against the `Manifest` schema, encodes
 * it as JSON and returns a DSSE envelope with one Ed25519 signature over
 * PAE(payloadType, payload). Throws a `TypeError` for a manifest that breaks
 * the schema (naming the field) or a key that is not an Ed25519 private JWK.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { generateSigningKey } from "./signing_key.ts";
 * import { signManifest } from "./sign_manifest.ts";
 * const { privateJwk } = await generateSigningKey("k1");
 * const envelope = await signManifest({
 *   programId: "hello", version: 1, source: 'say("hi");', instruction: null,
 *   apiVersion: "tabletop/1", robots: ["*"],
 *   issuedAt: "2026-05-01T00:00:00Z", expiresAt: "2026-07-01T00:00:00Z",
 *   budgets: { timeoutMs: 10000, memoryBytes: 16777216, maxSkillCalls: 10 },
 *   checks: [], provenance: { model: "human", attempts: 1 },
 * }, privateJwk);
 * equal(envelope.signatures[0]?.keyid, "k1");
 * ```
 */
export async function signManifest(
  manifest: Manifest,
  privateJwk: JsonWebKey,
  options: SignManifestOptions = {},
): Promise<Envelope> {
  const result = _ManifestSchema.safeParse(manifest, { reportInput: true });
  const name = typeof manifest?.programId === "string"
    ? `program ${JSON.stringify(manifest.programId.slice(0, 128))}`
    : "program";
  if (!result.success) {
    const { message } = _describeZodError(result.error, "the manifest");
    throw new TypeError(`Cannot sign ${name}: ${message}`);
  }
  const payload = new TextEncoder().encode(JSON.stringify(result.data));
  return await _signDsse(
    PROGRAM_PAYLOAD_TYPE,
    payload,
    privateJwk,
    options.keyId,
    name,
  );
}
