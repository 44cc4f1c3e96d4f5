import type { FailureLabel } from "./evidence_record.ts";

/**
 * The failure label of an uncaught skill error: interface errors
 * (`invalid_argument`, `precondition_violated`) stay apart from the skill's
 * own failures (`skill_failed`).
 */
export function labelForSkillCode(code: string): FailureLabel {
  switch (code) {
    case "invalid_argument":
    case "unknown_object":
    case "invalid_target":
    case "out_of_workspace":
      return "invalid_argument";
    case "gripper_full":
    case "not_holding":
    case "blocked":
      return "precondition_violated";
    default:
      return "skill_failed";
  }
}
