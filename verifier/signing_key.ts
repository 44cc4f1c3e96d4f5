import { PROGRAM_SIGNER_ROLE, type TrustStore } from "./trust_store.ts";

/** A fresh signing key: the private JWK (keep secret) and a trust store that trusts it. */
export interface SigningKey {
  /** The Ed25519 private key as a JWK, with `kid` set to the key id. */
  privateJwk: JsonWebKey & { kid: string };
  /** The matching public key as a JWK, with `kid` set to the key id. */
  publicJwk: JsonWebKey & { kid: string };
  /** A trust store holding only the public key, with the given roles. */
  trustStore: TrustStore;
}

/** Options of {@linkcode generateSigningKey}. */
export interface GenerateSigningKeyOptions {
  /** Roles of the key in the returned trust store; default `["program-signer"]`. */
  roles?: string[];
}

const _KEY_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * Generates an Ed25519 key pair (WebCrypto) for signing programs, as JWKs, and
 * a one-key trust store for the robot.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { generateSigningKey } from "./signing_key.ts";
 * const { privateJwk, trustStore } = await generateSigningKey("ci-2026");
 * equal(privateJwk.kid, "ci-2026");
 * equal(trustStore.keys[0]?.keyId, "ci-2026");
 * ```
 */
export async function generateSigningKey(
  keyId: string,
  options: GenerateSigningKeyOptions = {},
): Promise<SigningKey> {
  if (typeof keyId !== "string" || !_KEY_ID.test(keyId)) {
    throw new TypeError(
      `Cannot generate signing key: the key id must be 1-128 characters of letters, digits, '_', '.', ':' or '-', got ${
        JSON.stringify(String(keyId).slice(0, 60))
      }`,
    );
  }
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const privateJwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const publicJwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const x = publicJwk.x;
  if (x === undefined) {
    throw new TypeError(
      "Cannot generate signing key: WebCrypto exported a public key without x",
    );
  }
  return {
    privateJwk: { ...privateJwk, kid: keyId },
    publicJwk: { ...publicJwk, kid: keyId },
    trustStore: {
      keys: [{
        keyId,
        publicKeyJwk: { kty: "OKP", crv: "Ed25519", x },
        roles: [...(options.roles ?? [PROGRAM_SIGNER_ROLE])],
        revoked: false,
      }],
    },
  };
}
