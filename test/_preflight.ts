/**
 * Test preflight: finds the programs the suite runs for real (Mosquitto,
 * PostgreSQL, Chromium), installs the missing ones through the system
 * package manager when it can (root with apt-get), and otherwise stops with
 * one line saying exactly what to run. `deno task test` runs it first; the
 * suite never goes green by skipping what is missing.
 *
 * Run it alone: `deno run --allow-read --allow-env --allow-run --allow-sys test/_preflight.ts`.
 * @module
 */

/** One program the tests need, where to look for it and which package has it. */
export interface Requirement {
  /** What it is, for messages: `"Mosquitto"`. */
  name: string;
  /** The Debian package that installs it. */
  aptPackage: string;
  /** Finds the program; `null` when it is not installed. */
  find: () => string | null;
}

function _isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** The first of `names` found in a `PATH` folder, else `null`. */
function _onPath(...names: string[]): string | null {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const name of names) {
    for (const dir of dirs) {
      if (_isExecutable(`${dir}/${name}`)) return `${dir}/${name}`;
    }
  }
  return null;
}

/** The first path of `paths` that is an executable file, else `null`. */
function _firstExecutable(...paths: (string | undefined)[]): string | null {
  for (const path of paths) {
    if (path !== undefined && path !== "" && _isExecutable(path)) return path;
  }
  return null;
}

/**
 * The Mosquitto broker: `MOSQUITTO_BIN`, then `mosquitto` on `PATH`, then
 * `/usr/sbin/mosquitto` (Debian installs it outside a user's `PATH`).
 */
export function findMosquitto(): string | null {
  return _firstExecutable(Deno.env.get("MOSQUITTO_BIN")) ??
    _onPath("mosquitto") ??
    _firstExecutable("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto");
}

/**
 * The folder holding PostgreSQL's `initdb` and `postgres`: `PG_BIN`, then
 * `initdb` on `PATH`, then the newest `/usr/lib/postgresql/<major>/bin`.
 */
export function findPostgresBin(): string | null {
  const fromEnv = Deno.env.get("PG_BIN");
  if (fromEnv !== undefined && _isExecutable(`${fromEnv}/initdb`)) {
    return fromEnv;
  }
  const initdb = _onPath("initdb");
  if (initdb !== null && _isExecutable(initdb.replace(/initdb$/, "postgres"))) {
    return initdb.slice(0, initdb.lastIndexOf("/"));
  }
  let majors: number[] = [];
  try {
    majors = [...Deno.readDirSync("/usr/lib/postgresql")]
      .map((entry) => Number(entry.name))
      .filter((major) => Number.isInteger(major))
      .sort((a, b) => b - a);
  } catch {
    // not installed the Debian way
  }
  for (const major of majors) {
    const dir = `/usr/lib/postgresql/${major}/bin`;
    if (_isExecutable(`${dir}/initdb`) && _isExecutable(`${dir}/postgres`)) {
      return dir;
    }
  }
  return null;
}

/** Chromium (the fleet console's browser tests): `CHROME_BIN`, `/usr/bin/chromium`, `PATH`. */
export function findChromium(): string | null {
  return _firstExecutable(Deno.env.get("CHROME_BIN"), "/usr/bin/chromium") ??
    _onPath("chromium", "chromium-browser");
}

/** What the suite needs, in the order it is checked. */
export const REQUIREMENTS: readonly Requirement[] = [
  { name: "Mosquitto", aptPackage: "mosquitto", find: findMosquitto },
  { name: "PostgreSQL", aptPackage: "postgresql", find: findPostgresBin },
  { name: "Chromium", aptPackage: "chromium", find: findChromium },
];

/** Options of {@linkcode preflight}. */
export interface PreflightOptions {
  /** What to check; default {@linkcode REQUIREMENTS}. */
  requirements?: readonly Requirement[];
  /** Whether to install missing packages when running as root with apt-get. Default true. */
  install?: boolean;
  /** Where progress lines go; default stderr. */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** What {@linkcode preflight} found: `ok`, or the one line that says what to run. */
export type PreflightResult = { ok: true } | { ok: false; message: string };

/**
 * Checks every requirement, installs the missing ones with apt-get when
 * running as root, and says in one line what to run when it cannot.
 */
export async function preflight(
  options: PreflightOptions = {},
): Promise<PreflightResult> {
  const requirements = options.requirements ?? REQUIREMENTS;
  const log = options.log ?? ((line: string) => console.error(line));
  let missing = requirements.filter((r) => r.find() === null);
  if (missing.length === 0) return { ok: true };
  const packages = missing.map((r) => r.aptPackage).join(" ");
  const names = missing.map((r) => r.name).join(", ");
  const aptGet = _onPath("apt-get") ??
    _firstExecutable("/usr/bin/apt-get");
  const root = Deno.uid() === 0;
  if (options.install !== false && root && aptGet !== null) {
    log(`test preflight: installing ${names} (apt-get install ${packages})`);
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    const update = await _quiet(aptGet, ["update"], env, options.signal);
    const install = update.ok
      ? await _quiet(
        aptGet,
        ["install", "-y", "--no-install-recommends", ...packages.split(" ")],
        env,
        options.signal,
      )
      : update;
    missing = missing.filter((r) => r.find() === null);
    if (missing.length === 0) return { ok: true };
    return {
      ok: false,
      message: `test preflight: cannot install ${
        missing.map((r) => r.name).join(", ")
      } with apt-get (${install.why}); install the package(s) ${
        missing.map((r) => r.aptPackage).join(" ")
      } and run the tests again`,
    };
  }
  const command = aptGet !== null
    ? `sudo apt-get install -y ${packages}`
    : `install ${names} with your package manager (Debian packages: ${packages}), or set MOSQUITTO_BIN, PG_BIN, CHROME_BIN`;
  return {
    ok: false,
    message: `test preflight: ${names} not found; run: ${command}`,
  };
}

async function _quiet(
  command: string,
  args: string[],
  env: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<{ ok: boolean; why: string }> {
  try {
    const output = await new Deno.Command(command, {
      args,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      ...(signal === undefined ? {} : { signal }),
    }).output();
    if (output.success) return { ok: true, why: "" };
    const stderr = new TextDecoder().decode(output.stderr).trim().split("\n")
      .at(-1) ?? "";
    return {
      ok: false,
      why: `${command} ${args[0]} exited ${output.code}${
        stderr === "" ? "" : `: ${stderr}`
      }`,
    };
  } catch (error) {
    return { ok: false, why: error instanceof Error ? error.message : "" };
  }
}

if (import.meta.main) {
  const result = await preflight();
  if (!result.ok) {
    console.error(result.message);
    Deno.exit(1);
  }
}
