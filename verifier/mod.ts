/**
 * Pure checks (no I/O): program source → verifier report; signed envelope →
 * verified manifest; signed operator command → verified command.
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
export type { Schema, SchemaResult } from "./schema.ts";
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
  DEFAULT_MAX_MANIFEST_LIFETIME_DAYS,
  type EnvelopeCaps,
  type EnvelopeCheck,
  type EnvelopeCheckOptions,
  type EnvelopeLimits,
  type EnvelopeOffloadOptions,
  type EnvelopeRejectReason,
} from "./check_envelope.ts";

// Operator commands: what makes the robot move or releases its stop.
export {
  COMMAND_PAYLOAD_TYPE,
  MAX_COMMAND_WINDOW_MS,
  OPERATOR_ROLE,
  OperatorCommand,
} from "./operator_command.ts";
export {
  type CommandInit,
  signCommand,
  type SignCommandOptions,
} from "./sign_command.ts";
export {
  checkCommand,
  type CommandCheck,
  type CommandCheckOptions,
  type CommandRejectReason,
  DEFAULT_COMMAND_MAX_BYTES,
} from "./check_command.ts";

// Strict JSON: what the signed formats are parsed with (no duplicate keys).
export {
  parseStrictJson,
  STRICT_JSON_MAX_DEPTH,
  type StrictJson,
} from "./parse_strict_json.ts";

// Static program verifier: source → report; the language subset for the prompt.
export {
  type CatchSite,
  listUnknownFunctions,
  type VerifyOptions,
  verifyProgram,
} from "./verify_program.ts";
export type { VerifierApi } from "./verifier_api.ts";
export type { VerifierIssue, VerifierReport } from "./verifier_issue.ts";
export { SANDBOX_LIMITS, type SandboxLimits } from "./sandbox_limits.ts";
export { ALLOWED_BUILTINS, type AllowedBuiltin } from "./allowed_builtins.ts";
export { LANGUAGE_RULES } from "./language_rules.ts";
export { HOST_PORT } from "./host_port.ts";
