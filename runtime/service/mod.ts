/**
 * The robot's service, independent of transport: delivery checks, the
 * program cache, runs, the emergency stop and the local evidence store.
 * @module
 */
export {
  CacheClosedError,
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
  ServiceClosedError,
} from "./edge_service.ts";
