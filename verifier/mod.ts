/**
 * Pure checks (no I/O): program source → verifier report; signed envelope →
 * verified manifest.
 * @module
 */

// Signed programs: DSSE envelope, manifest, trust store, signing.
export {
  type Envelope,
  type EnvelopeSignature,
  pae,
  PROGRAM_PAYLOAD_TYPE,
} from "./dsse.ts";
export { Budgets, Manifest, Provenance } from "./manifest.ts";
export {
  parseTrustStore,
  PROGRAM_SIGNER_ROLE,
  PublicKeyJwk,
  TrustedKey,
  TrustStore,
} from "./trust_store.ts";
export {
  generateSigningKey,
  type GenerateSigningKeyOptions,
  type SigningKey,
} from "./signing_key.ts";
export { signManifest, type SignManifestOptions } from "./sign_manifest.ts";
export {
  type AcceptedVersion,
  checkEnvelope,
  DEFAULT_CLOCK_SKEW_MS,
  DEFAULT_ENVELOPE_MAX_BYTES,
  type EnvelopeCaps,
  type EnvelopeCheck,
  type EnvelopeCheckOptions,
  type EnvelopeRejectReason,
} from "./check_envelope.ts";

// Static program verifier: source → report; the language subset for the prompt.
export {
  type VerifierApi,
  type VerifierIssue,
  type VerifierReport,
  type VerifyOptions,
  verifyProgram,
} from "./verify_program.ts";
export { ALLOWED_BUILTINS, type AllowedBuiltin } from "./allowed_builtins.ts";
export { LANGUAGE_RULES } from "./language_rules.ts";
