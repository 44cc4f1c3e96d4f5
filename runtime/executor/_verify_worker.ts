/// <reference lib="deno.worker" />
/**
 * The verification worker: runs the static verifier and the checks of
 * large signed envelopes off the core's event loop. One job at a time; the
 * pool terminates this worker when a job passes its time bound (the
 * verifier and the envelope checks are plain JavaScript, so that works).
 * @module
 */
import { TABLETOP_API } from "../../skills-bridge/mod.ts";
import {
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

/** What the worker answers: ready once loaded, then one reply per job. */
export type _VerifyReply =
  | { ready: true }
  | { id: number; report: VerifierReport }
  | { id: number; check: EnvelopeCheck }
  | { id: number; error: string };

self.onmessage = async (event: MessageEvent<_VerifyJob>) => {
  const job = event.data;
  let reply: _VerifyReply;
  try {
    reply = job.kind === "envelope"
      ? { id: job.id, check: await checkEnvelope(job.envelope, job.options) }
      : {
        id: job.id,
        report: verifyRun(job.source, job.checks, TABLETOP_API),
      };
  } catch (error) {
    reply = {
      id: job.id,
      error: error instanceof Error ? error.message : String(error),
    };
  }
  self.postMessage(reply);
};
self.postMessage({ ready: true } satisfies _VerifyReply);
