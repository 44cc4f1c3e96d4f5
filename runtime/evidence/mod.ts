/**
 * The evidence record (contract): its types, the failure labels, and the
 * helpers every record is built with.
 * @module
 */
export {
  type CallRecord,
  type CheckRecord,
  type EvidenceRecord,
  FAILURE_LABELS,
  type FailureLabel,
  type Outcome,
  type ProgramRecord,
  type VerifierIssue,
  type VerifierReport,
} from "./evidence_record.ts";
export { labelForSkillCode } from "./label_for_skill_code.ts";
export { sha256Hex } from "./sha256_hex.ts";
