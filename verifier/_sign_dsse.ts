import { encodeBase64, type Envelope, pae } from "./dsse.ts";

/**
 * Signs `payload` as a DSSE envelope of `payloadType` with an Ed25519 private
 * JWK: one signature over PAE(payloadType, payload). `subject` names what is
 * signed in error messages (`program "pick-mug"`, `command "run"`). Throws a
 * `TypeError` for a key that is not an Ed25519 private JWK or has no key id.
 */
export async function _signDsse(
  payloadType: string,
  payload: Uint8Array<ArrayBuffer>,
  privateJwk: JsonWebKey,
  keyIdOption: string | undefined,
  subject: string,
): Promise<Envelope> {
  const jwk = privateJwk as JsonWebKey & { kid?: unknown };
  const keyId = keyIdOption ??
    (typeof jwk?.kid === "string" ? jwk.kid : undefined);
  if (keyId === undefined || keyId === "") {
    throw new TypeError(
      `Cannot sign ${subject}: no key id (pass options.keyId or set kid on the JWK)`,
    );
  }
  if (
    jwk?.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.d !== "string" ||
    typeof jwk.x !== "string"
  ) {
    throw new TypeError(
      `Cannot sign ${subject}: key "${keyId}" is not an Ed25519 private JWK (kty "OKP", crv "Ed25519", d and x)`,
    );
  }
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey(
      "jwk",
      { kty: "OKP", crv: "Ed25519", x: jwk.x, d: jwk.d },
      { name: "Ed25519" },
      false,
      ["sign"],
    );
  } catch (error) {
    throw new TypeError(
      `Cannot sign ${subject}: key "${keyId}" cannot be imported (${
        (error as Error).message
      })`,
      { cause: error },
    );
  }
  const sig = await crypto.subtle.sign(
    "Ed25519",
    key,
    pae(payloadType, payload),
  );
  return {
    payloadType,
    payload: encodeBase64(payload),
    signatures: [{ keyid: keyId, sig: encodeBase64(new Uint8Array(sig)) }],
  };
}
