/**
 * The robot's skill API (zod schemas), the `SkillBackend` interface, the
 * `sim` backend and the shared backend contract test.
 * @module
 */
export * from "./skill_error.ts";
export { ClosedError, type ClosedErrorOptions } from "./closed_error.ts";
export { delay, type DelayOptions } from "./delay.ts";
export * from "./skill_api.ts";
export type {
  SkillSchema,
  SkillSchemaError,
  SkillSchemaResult,
} from "./skill_schema.ts";
export * from "./skill_backend.ts";
export { callSkill } from "./call_skill.ts";
export * from "./sim/mod.ts";
export {
  type NamedType,
  renderDeclarations,
  type RenderDeclarationsOptions,
} from "./render_declarations.ts";
export {
  type BackendContractOptions,
  runBackendContract,
} from "./backend_contract.ts";
export * from "./ros2/mod.ts";
export { showValue } from "./show_value.ts";
