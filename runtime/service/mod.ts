/**
 * The robot's service, independent of transport: delivery checks, the
 * program cache, runs, the emergency stop and the local evidence store.
 * @module
 */
export {
  type CachedProgram,
  ProgramCache,
  type RunFilter,
  type RunPage,
  type RunSummary,
} from "./program_cache.ts";
export {
  type EdgeLog,
  EdgeService,
  type EdgeServiceOptions,
  type EdgeSink,
  ProgramNotFoundError,
  type Receipt,
  type RunOrigin,
  ServiceClosedError,
} from "./edge_service.ts";
export {
  type AcceptedVersion,
  ReplayState,
  type ReplayStateOptions,
} from "./replay_state.ts";
export {
  EvidenceJournal,
  type EvidenceJournalOptions,
  type JournalEntry,
} from "./evidence_journal.ts";
export {
  openStateFile,
  type OpenStateFileOptions,
  type SetAsideFile,
} from "./open_state_file.ts";
export {
  type NodeState,
  openNodeState,
  type OpenNodeStateOptions,
} from "./open_node_state.ts";
export { StoreClosedError } from "./store_closed_error.ts";
export { StateDirInUseError, StateDirLock } from "./state_dir_lock.ts";
