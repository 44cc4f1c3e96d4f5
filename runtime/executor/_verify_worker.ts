/// <reference lib="deno.worker" />
/**
 * The verification worker: runs the static verifier and the checks of
 * large signed envelopes off the core's event loop. One job at a time; the
 * pool terminates this worker when a job passes its time bound (the
 * verifier and the envelope checks are plain JavaScript, so that works).
 * @module
 */
import { setPriority } from "node:os";
import { TABLETOP_API } from "../../skills-bridge/mod.ts";
import {
  type CatchSite,
  checkEnvelope,
  type EnvelopeCheck,
  type EnvelopeOffloadOptions,
} from "../../verifier/mod.ts";
import type { VerifierReport } from "../evidence/mod.ts";
import { verifyRun } from "./verify_run.ts";

/** A job the pool sends: verify a program, or check an envelope without the replay state. */
export type _VerifyJob =
  | { id: number; kind: "verify"; source: string; checks: string[] }
  | {
    id: number;
    kind: "envelope";
    envelope: unknown;
    options: EnvelopeOffloadOptions;
  };

/**
 * The nice value this worker's thread asks for. On Linux a thread's nice
 * value is its own, so only this thread yields: a core event loop or a
 * sandbox host that wakes while a heavy source is being checked gets a CPU
 * ahead of it (the machine has few), and the check still has every idle
 * cycle. 5, not more: the pool's time bound is wall-clock, and at nice 5 a
 * thread keeps about a third of a CPU's share against busy nice-0 threads,
 * so a heavy program (0.2 s to check) stays far inside its 5 s bound.
 */
export const _VERIFIER_NICE = 5;

/**
 * What the worker answers: ready once loaded (with the nice value it got,
 * or why it could not lower its priority), then one reply per job.
 */
export type _VerifyReply =
  | { ready: true; nice: number }
  | { ready: true; niceError: string }
  | { id: number; report: VerifierReport; catchSites: CatchSite[] }
  | { id: number; check: EnvelopeCheck }
  | { id: number; error: string };

self.onmessage = async (event: MessageEvent<_VerifyJob>) => {
  const job = event.data;
  let reply: _VerifyReply;
  try {
    if (job.kind === "envelope") {
      reply = {
        id: job.id,
        check: await checkEnvelope(job.envelope, job.options),
      };
    } else {
      const catchSites: CatchSite[] = [];
      const report = verifyRun(job.source, job.checks, TABLETOP_API, {
        catchSites,
      });
      reply = { id: job.id, report, catchSites };
    }
  } catch (error) {
    reply = {
      id: job.id,
      error: error instanceof Error ? error.message : String(error),
    };
  }
  self.postMessage(reply);
};
let ready: _VerifyReply;
try {
  // Elsewhere a process has one nice value: lowering it here would lower
  // the core's event loop and every helper it starts after.
  if (Deno.build.os !== "linux") {
    throw new Error(`a thread's own priority is Linux only (${Deno.build.os})`);
  }
  // pid 0: the calling thread (Linux keeps a nice value per thread).
  setPriority(0, _VERIFIER_NICE);
  ready = { ready: true, nice: _VERIFIER_NICE };
} catch (error) {
  ready = {
    ready: true,
    niceError: error instanceof Error ? error.message : String(error),
  };
}
self.postMessage(ready);
