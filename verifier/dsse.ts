/**
 * DSSE (Dead Simple Signing Envelope) pieces: the payload type of a signed
 * program, the pre-authentication encoding that is signed, the envelope shape
 * and strict standard base64.
 * @module
 */

/** The DSSE `payloadType` of a signed cap-edge program manifest. */
export const PROGRAM_PAYLOAD_TYPE = "application/vnd.cap-edge.program+json";

/** One DSSE signature: the id of the signing key and the base64 Ed25519 signature. */
export interface EnvelopeSignature {
  /** The trust-store id of the signing key. */
  keyid: string;
  /** Standard base64 of the 64-byte Ed25519 signature over PAE(payloadType, payload). */
  sig: string;
}

/** A DSSE envelope: `payload` is the standard base64 of the payload bytes. */
export interface Envelope {
  /** What the payload is, e.g. {@linkcode PROGRAM_PAYLOAD_TYPE}. */
  payloadType: string;
  /** Standard base64 of the payload bytes (JSON). */
  payload: string;
  /** One or more signatures; one by a trusted key with the right role suffices. */
  signatures: EnvelopeSignature[];
}

const _encoder = new TextEncoder();

/**
 * DSSE pre-authentication encoding, the bytes an envelope signature covers:
 * `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, LEN being the ASCII
 * decimal byte length.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { pae } from "./dsse.ts";
 * const bytes = pae("t", new TextEncoder().encode("hi"));
 * deepStrictEqual(new TextDecoder().decode(bytes), "DSSEv1 1 t 2 hi");
 * ```
 */
export function pae(
  payloadType: string,
  payload: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const type = _encoder.encode(payloadType);
  const head = _encoder.encode(
    `DSSEv1 ${type.byteLength} ${payloadType} ${payload.byteLength} `,
  );
  const out = new Uint8Array(head.byteLength + payload.byteLength);
  out.set(head, 0);
  out.set(payload, head.byteLength);
  return out;
}

/** Standard base64 (RFC 4648 section 4, padded) of `bytes`. */
export function encodeBase64(bytes: Uint8Array): string {
  return bytes.toBase64();
}

/**
 * Decodes strict standard base64: padded, no whitespace, no URL-safe
 * alphabet, no stray bits. Returns `undefined` for anything else.
 */
export function decodeBase64(
  text: string,
): Uint8Array<ArrayBuffer> | undefined {
  if (text.length % 4 !== 0) return undefined;
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    // The strict decoder refuses another alphabet, missing padding and
    // stray bits, but skips ASCII whitespace.
    bytes = Uint8Array.fromBase64(text, { lastChunkHandling: "strict" });
  } catch {
    return undefined;
  }
  // Whitespace is the one thing left, found by length instead of a pattern
  // (a fifth of a 64 KiB envelope's check): w > 0 skipped characters, w a
  // multiple of 4 as the length is, shorten the bytes by 3w/4 >= 3, more
  // than the padding (at most 2) can account for.
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  return bytes.length === text.length / 4 * 3 - padding ? bytes : undefined;
}
