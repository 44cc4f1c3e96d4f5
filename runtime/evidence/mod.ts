/**
 * The evidence record (contract): its types, the failure labels, and the
 * helpers every record is built and bounded with.
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
  type Truncation,
  type VerifierIssue,
  type VerifierReport,
  type WorldState,
} from "./evidence_record.ts";
export { cutText } from "./cut_text.ts";
export { labelForSkillCode } from "./label_for_skill_code.ts";
export { sha256Hex } from "./sha256_hex.ts";
export {
  boundRecord,
  type BoundRecordOptions,
  DEFAULT_EVIDENCE_MAX_BYTES,
} from "./bound_record.ts";
export {
  buildRecord,
  type RecordEnd,
  type RecordStart,
} from "./build_record.ts";
