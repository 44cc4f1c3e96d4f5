/// <reference lib="deno.worker" />
/**
 * The verification worker: runs the static verifier off the core's event
 * loop. One job at a time; the pool terminates this worker when a job
 * passes its time bound (the verifier is plain JavaScript, so that works).
 * @module
 */
import { TABLETOP_API } from "../../skills-bridge/mod.ts";
import { verifyRun } from "./verify_run.ts";

self.onmessage = (
  event: MessageEvent<{ id: number; source: string; checks: string[] }>,
) => {
  const { id, source, checks } = event.data;
  try {
    self.postMessage({ id, report: verifyRun(source, checks, TABLETOP_API) });
  } catch (error) {
    self.postMessage({
      id,
      error: error instanceof Error ? error.message : String(error),
    });
  }
};
self.postMessage({ ready: true });
