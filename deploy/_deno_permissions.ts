/**
 * Test helper: splits a `deno run …` / `deno compile …` command into Deno's
 * own flags and the script, and audits the permission flags against the
 * service's rules (never everything, never subprocesses, lists for the rest).
 * @module
 */

/** A `deno <subcommand> [flags] <script> [args]` command, split. */
export interface _DenoCommand {
  executable: string;
  subcommand: string;
  /** Deno's flags (before the script), in order. */
  flags: string[];
  script: string;
  /** The script's own arguments. */
  scriptArgs: string[];
}

/** Splits argv of a Deno command; every Deno flag must be `--name` or `--name=value`. */
export function _splitDenoCommand(argv: readonly string[]): _DenoCommand {
  const [executable, subcommand, ...rest] = argv;
  if (executable === undefined || subcommand === undefined) {
    throw new TypeError(
      `Cannot read the Deno command: expected "deno <subcommand> …", got ${
        JSON.stringify(argv)
      }`,
    );
  }
  const scriptAt = rest.findIndex((arg) => !arg.startsWith("-"));
  if (scriptAt < 0) {
    throw new TypeError(
      `Cannot read the Deno command: no script in ${JSON.stringify(argv)}`,
    );
  }
  return {
    executable,
    subcommand,
    flags: rest.slice(0, scriptAt),
    script: rest[scriptAt]!,
    scriptArgs: rest.slice(scriptAt + 1),
  };
}

/** The value of `--name=value` among `flags` (`""` for a bare `--name`), or undefined. */
export function _flagValue(
  flags: readonly string[],
  name: string,
): string | undefined {
  for (const flag of flags) {
    if (flag === name) return "";
    if (flag.startsWith(`${name}=`)) return flag.slice(name.length + 1);
  }
  return undefined;
}

/** Options of {@linkcode _permissionIssues}. */
export interface _PermissionRules {
  /** `--allow-ffi=<paths>` is allowed (the ros2 backend's native addon). */
  ffi?: boolean;
}

const _FORBIDDEN = ["-A", "--allow-all", "--allow-import"];
/** Permissions that must name what they allow: bare, they allow everything. */
const _LISTED = [
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-sys",
  "--allow-ffi",
];
const _KNOWN = [..._LISTED, "--allow-env", "--allow-run"];

/** The one thing the core may run: the Deno binary (its helper processes). */
function _isDenoBinary(value: string): boolean {
  return value === "deno" || /^\/(?:[^,]+\/)?deno$/.test(value);
}

/**
 * What is wrong with the permission flags of a service command; empty when
 * it follows the rules: no `-A`/`--allow-all`/`--allow-import`,
 * `--allow-run` only for exactly the Deno binary (the core starts its
 * sandbox hosts and gRPC gateway with it),
 * read/write/net/sys/ffi only with a list, ffi only where allowed, no
 * unknown `--allow-*`, and `--unstable-worker-options` present.
 */
export function _permissionIssues(
  flags: readonly string[],
  rules: _PermissionRules = {},
): string[] {
  const issues: string[] = [];
  for (const flag of flags) {
    const name = flag.split("=")[0]!;
    if (_FORBIDDEN.includes(name) || /^-[a-zA-Z]*A/.test(flag)) {
      issues.push(`grants ${flag}: the service must never have it`);
    } else if (name.startsWith("--allow-") && !_KNOWN.includes(name)) {
      issues.push(`grants ${flag}: the service does not need it`);
    } else if (
      name === "--allow-run" &&
      !(flag.includes("=") && _isDenoBinary(flag.slice(flag.indexOf("=") + 1)))
    ) {
      issues.push(
        `grants ${flag}: the core may run exactly the Deno binary (--allow-run=<path to deno>)`,
      );
    } else if (_LISTED.includes(name) && !flag.includes("=")) {
      issues.push(`grants ${flag} without a list: that allows everything`);
    } else if (_LISTED.includes(name) && flag.endsWith("=")) {
      issues.push(`grants ${flag} with an empty list`);
    }
    if (name === "--allow-ffi" && rules.ffi !== true) {
      issues.push(`grants ${flag}: only the ros2 backend needs FFI`);
    }
  }
  if (!flags.includes("--unstable-worker-options")) {
    issues.push(
      "lacks --unstable-worker-options: the sandbox worker cannot drop its permissions without it",
    );
  }
  return issues;
}
