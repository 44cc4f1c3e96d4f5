import { EvidenceJournal } from "./evidence_journal.ts";
import { openStateFile, type SetAsideFile } from "./open_state_file.ts";
import { ProgramCache } from "./program_cache.ts";
import { ReplayState } from "./replay_state.ts";

/** Options of {@linkcode openNodeState}. */
export interface OpenNodeStateOptions {
  /** Evidence records the local store keeps. Default 1000. */
  evidenceRetention?: number;
  /** Journal batch window, ms. Default 5. */
  journalFlushMs?: number;
  /** Where set-asides and a restart of replay protection are reported. */
  log?: (
    level: "info" | "warn" | "error",
    message: string,
    data?: Record<string, unknown>,
  ) => void;
  /** The clock; default `() => new Date()`. */
  now?: () => Date;
}

/** The robot's durable state, opened (what could not be used set aside). */
export interface NodeState extends Disposable {
  /** `cache.sqlite`: programs and the local evidence store. */
  cache: ProgramCache;
  /** `replay.sqlite`: last accepted versions and nonces. */
  replay: ReplayState;
  /** `journal.sqlite`: the write-ahead evidence journal. */
  journal: EvidenceJournal;
  /** State files that could not be used and were renamed (this start). */
  setAside: SetAsideFile[];
  /** When replay protection restarted from nothing (lost or unreadable state), and why; `null` when it did not. */
  replayRestarted: { at: string; reason: string } | null;
  /** What the heartbeat says about the state: `stateFiles` and `replay`. */
  health(): Record<string, unknown>;
}

/**
 * Opens the program cache (`cache.sqlite`), the replay state
 * (`replay.sqlite`) and the evidence journal (`journal.sqlite`) in
 * `stateDir`. A file that cannot be used is set aside (renamed
 * `…corrupt-<timestamp>`, logged) and a fresh one is used, so bad state never
 * keeps the robot down. When the replay state starts from nothing although
 * the robot had state before, that is logged and reported: replay protection
 * restarted (seeded with the cache's copy of the last accepted versions when
 * the cache is readable; manifest lifetimes and command time windows bound
 * what could be replayed).
 */
export function openNodeState(
  stateDir: string,
  options: OpenNodeStateOptions = {},
): NodeState {
  const log = options.log ?? (() => {});
  const now = options.now ?? (() => new Date());
  const setAside: SetAsideFile[] = [];
  const replayPath = `${stateDir}/replay.sqlite`;
  const replaySize = _size(replayPath);
  const hadCache = _size(`${stateDir}/cache.sqlite`) > 0;
  const opened: Disposable[] = [];
  try {
    const open = <T extends Disposable>(
      path: string,
      what: string,
      openFile: (path: string) => T,
    ): T => {
      const result = openStateFile(path, openFile, { what, log, now });
      if (result.setAside !== null) setAside.push(result.setAside);
      opened.push(result.value);
      return result.value;
    };
    const cache = open(
      `${stateDir}/cache.sqlite`,
      "program cache",
      (path) =>
        ProgramCache.open(path, {
          evidenceRetention: options.evidenceRetention ?? 1000,
        }),
    );
    const replay = open(
      replayPath,
      "replay state",
      (path) => ReplayState.open(path),
    );
    const journal = open(
      `${stateDir}/journal.sqlite`,
      "evidence journal",
      (path) =>
        EvidenceJournal.open(path, {
          flushMs: options.journalFlushMs ?? 5,
        }),
    );
    let replayRestarted: NodeState["replayRestarted"] = null;
    if (replay.fresh) {
      const seeds = cache.acceptedVersions();
      const lost = setAside.some((f) => f.path === replayPath)
        ? "the replay state file was unusable and was set aside"
        : replaySize >= 0
        ? "the replay state file held nothing"
        : seeds.length > 0 || hadCache
        ? "there was no replay state file, but the robot had state"
        : null;
      if (lost !== null) {
        for (const seed of seeds) {
          replay.accept(seed.programId, {
            version: seed.version,
            payloadSha256: seed.payloadSha256,
          });
        }
        const reason =
          `${lost}; re-seeded ${seeds.length} program version(s) from the cache; operator-command nonces seen before are forgotten (command time windows and manifest lifetimes bound what could be replayed)`;
        replayRestarted = { at: now().toISOString(), reason };
        log("error", `replay protection restarted: ${reason}`, {
          replayRestarted,
        });
      }
    }
    return {
      cache,
      replay,
      journal,
      setAside,
      replayRestarted,
      health: () => ({
        stateFiles: { setAside },
        replay: { restarted: replayRestarted },
      }),
      [Symbol.dispose]() {
        for (const resource of opened.reverse()) resource[Symbol.dispose]();
      },
    };
  } catch (error) {
    for (const resource of opened.reverse()) resource[Symbol.dispose]();
    throw error;
  }
}

/** Size of the file at `path`, -1 when there is none. */
function _size(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return -1;
  }
}
