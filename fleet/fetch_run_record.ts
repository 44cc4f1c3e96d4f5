import type { EvidenceRecord } from "../runtime/evidence/mod.ts";

/** Options of {@linkcode fetchRunRecord}. */
export interface FetchRunRecordOptions {
  /** `user:password` for a console behind a login. */
  login?: string | undefined;
  /** Aborting cancels the call. */
  signal?: AbortSignal | undefined;
  /** Default 10 s. */
  timeoutMs?: number | undefined;
}

/** Fetches one run's evidence record from a fleet console (`GET /api/runs/<runId>`). */
export async function fetchRunRecord(
  consoleUrl: string,
  runId: string,
  options: FetchRunRecordOptions = {},
): Promise<EvidenceRecord> {
  const url = new URL(`/api/runs/${encodeURIComponent(runId)}`, consoleUrl);
  const signal = AbortSignal.any([
    AbortSignal.timeout(options.timeoutMs ?? 10_000),
    ...(options.signal === undefined ? [] : [options.signal]),
  ]);
  let res: Response;
  try {
    res = await fetch(url, {
      signal,
      headers: options.login === undefined
        ? {}
        : { authorization: `Basic ${btoa(options.login)}` },
    });
  } catch (error) {
    throw new Error(
      `Cannot fetch run "${runId}" from the console: ${
        (error as Error).message
      }: ${url}`,
      { cause: error },
    );
  }
  const body = await res.json().catch(() => null) as
    | EvidenceRecord
    | { error?: string }
    | null;
  if (!res.ok) {
    throw new Error(
      `Cannot fetch run "${runId}" from the console: ${res.status} ${
        (body as { error?: string } | null)?.error ?? res.statusText
      }: ${url}`,
    );
  }
  return body as EvidenceRecord;
}
