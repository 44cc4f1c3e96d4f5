/**
 * The cloud side: prompt from the skill API, LLM client (any
 * OpenAI-compatible server), code extraction, hierarchical helper
 * generation, the repair loop (verifier issues and dry-run evidence back to
 * the model), signing with provenance, the replay server and the eval suite.
 * @module
 */
export { SynthesisError, type SynthesisErrorCode } from "./synthesis_error.ts";
export type { ChatMessage, CompleteOptions, LlmClient } from "./llm_client.ts";
export {
  createOpenAiClient,
  DEFAULT_MODEL_RETRIES,
  DEFAULT_MODEL_TIMEOUT_MS,
  type OpenAiClientOptions,
} from "./create_openai_client.ts";
export { extractCode } from "./extract_code.ts";
export { summarizeScene } from "./summarize_scene.ts";
export {
  buildPrompt,
  type BuildPromptOptions,
  buildSystemPrompt,
  buildTaskMessage,
  INSTRUCTION_MARKER,
} from "./build_prompt.ts";
export {
  buildHelperPrompt,
  type BuildHelperPromptOptions,
  HELPER_MARKER,
} from "./build_helper_prompt.ts";
export {
  buildRepairMessage,
  type RepairFeedback,
} from "./build_repair_message.ts";
export { promptSha256 } from "./prompt_sha256.ts";
export {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_HELPER_DEPTH,
  type SynthesisResult,
  synthesize,
  type SynthesizeOptions,
} from "./synthesize.ts";
export type { HelperRecord, SynthesisAttempt } from "./synthesis_attempt.ts";
export {
  DEFAULT_PROGRAM_TTL_MS,
  signProgram,
  type SignProgramOptions,
} from "./sign_program.ts";
export {
  DEFAULT_REPLAY_FILE,
  loadReplayAnswers,
  REPLAY_MODEL,
  type ReplayAnswers,
  replayKey,
  type ReplayServer,
  type ReplayServerOptions,
  startReplayServer,
} from "./replay_server.ts";
export {
  DEFAULT_EVAL_DIR,
  type EvalTask,
  loadEvalTasks,
  type LoadEvalTasksOptions,
} from "./eval/load_eval_tasks.ts";
export {
  type EvalReport,
  type EvalTaskResult,
  runEval,
  type RunEvalOptions,
} from "./eval/run_eval.ts";
export {
  type ModelConnection,
  openModelClient,
  type OpenModelClientOptions,
} from "./open_model_client.ts";
export {
  DryRunner,
  DryRunnerDisposedError,
  type DryRunnerOptions,
  type DryRunOptions,
} from "./dry_runner.ts";
export {
  deliverToRobots,
  type DeliverToRobotsOptions,
  type RobotDelivery,
} from "./deliver_to_robots.ts";
export {
  repairFromRun,
  type RepairFromRunOptions,
  type RunRepair,
  sceneFromRecord,
  seedWithRecord,
} from "./repair_from_run.ts";
