/**
 * Test helper: the installed layout of deploy/ (the paths and ports the
 * systemd units and example configs name) swapped for a test's temporary
 * ones, so the units' exact command lines run on this machine.
 * @module
 */
import { fileURLToPath } from "node:url";

/** This checkout (the unit's `/opt/cap-edge`), without a trailing slash. */
export const _ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(
  /\/$/,
  "",
);

/** Where a test puts what the units expect in `/etc`, `/var/lib` and on the network. */
export interface _TestLayout {
  /** Stands in for `/etc/cap-edge`. */
  etc: string;
  /** Stands in for `/var/lib/cap-edge`. */
  state: string;
  /** Free loopback port for gRPC (the units' 50051). */
  grpcPort: number;
  /** Loopback port of the test's broker (the units' 1883). */
  mqttPort: number;
}

/** Rewrites the installed paths and ports in `text` to the test's. */
export function _toTestLayout(text: string, layout: _TestLayout): string {
  return text
    .replaceAll("/usr/local/bin/deno", Deno.execPath())
    .replaceAll("/opt/cap-edge", _ROOT)
    .replaceAll("/etc/cap-edge", layout.etc)
    .replaceAll("/var/lib/cap-edge", layout.state)
    .replaceAll("127.0.0.1:50051", `127.0.0.1:${layout.grpcPort}`)
    .replaceAll("127.0.0.1:1883", `127.0.0.1:${layout.mqttPort}`);
}

/**
 * The environment a service child gets: the unit's own `Environment=` (minus
 * `DENO_DIR`, which is this machine's) plus what locates Deno's cache here.
 */
export function _childEnv(
  unitEnv: Record<string, string>,
  extra: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = { ...unitEnv };
  delete env.DENO_DIR;
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

let _cached: Promise<void> | null = null;

/**
 * Caches the service's module graph (the main module and the sandbox worker,
 * which nothing imports statically) once, as the install step does, so the
 * units' `--cached-only --frozen` can load it.
 */
export function _cacheServiceModules(): Promise<void> {
  _cached ??= (async () => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "cache",
        `--config=${_ROOT}/deno.json`,
        "--frozen",
        `${_ROOT}/runtime/main.ts`,
        `${_ROOT}/runtime/sandbox/_worker.ts`,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(
        `Cannot cache the service modules (deno cache exited ${output.code}): ${
          new TextDecoder().decode(output.stderr)
        }`,
      );
    }
  })();
  return _cached;
}
