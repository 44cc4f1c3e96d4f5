/**
 * Test helper: a real PostgreSQL server (initdb into a temp dir, `postgres`
 * on a free loopback port), started the way test/_mosquitto.ts starts
 * Mosquitto. As root it runs as the `postgres` user (PostgreSQL refuses
 * root), through `setpriv`, which execs so the child is postgres itself.
 * @module
 */
import { join } from "node:path";
import { freePort } from "./_mosquitto.ts";

const _BIN = Deno.env.get("PG_BIN") ?? "/usr/lib/postgresql/15/bin";

/** Options of {@linkcode startPostgres}. */
export interface StartPostgresOptions {
  /** How long to wait for the server to accept queries. Default 30 s. */
  readyTimeoutMs?: number;
  signal?: AbortSignal;
}

/** A running PostgreSQL; dispose to stop it and remove its files. */
export interface Postgres extends AsyncDisposable {
  /** `postgres://cap@127.0.0.1:<port>/postgres` (trust auth on loopback). */
  readonly url: string;
  readonly port: number;
  /** Creates a fresh database; resolves with its URL. */
  newDatabase(name?: string): Promise<string>;
  /** The server's log so far (for failure messages). */
  log(): string;
}

/** Runs `cmd` (as the postgres user when we are root); throws with its output when it fails. */
async function _run(
  cmd: string,
  args: string[],
  asUser: { uid: number; gid: number } | null,
): Promise<void> {
  const [program, argv] = asUser === null ? [cmd, args] : ["setpriv", [
    `--reuid=${asUser.uid}`,
    `--regid=${asUser.gid}`,
    "--clear-groups",
    "--",
    cmd,
    ...args,
  ]];
  const out = await new Deno.Command(program, {
    args: argv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr) +
      new TextDecoder().decode(out.stdout);
    throw new Error(
      `Cannot run ${
        cmd.split("/").pop()
      }: it exited with code ${out.code}: ${text.trim()}`,
    );
  }
}

async function _postgresUser(): Promise<{ uid: number; gid: number } | null> {
  if (Deno.uid() !== 0) return null;
  const out = await new Deno.Command("id", {
    args: ["-u", "postgres"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const gid = await new Deno.Command("id", {
    args: ["-g", "postgres"],
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!out.success || !gid.success) {
    throw new Error(
      'Cannot start PostgreSQL as root: it refuses root and there is no "postgres" user',
    );
  }
  return {
    uid: Number(new TextDecoder().decode(out.stdout).trim()),
    gid: Number(new TextDecoder().decode(gid.stdout).trim()),
  };
}

/** Starts PostgreSQL 15 on a free 127.0.0.1 port over a fresh data dir. */
export async function startPostgres(
  options: StartPostgresOptions = {},
): Promise<Postgres> {
  try {
    await Deno.stat(join(_BIN, "initdb"));
  } catch {
    throw new Error(
      `Cannot start PostgreSQL: no initdb in ${_BIN} (apt-get install postgresql-15, or set PG_BIN)`,
    );
  }
  const user = await _postgresUser();
  const dir = await Deno.makeTempDir({ prefix: "cap-postgres-" });
  if (user !== null) await Deno.chown(dir, user.uid, user.gid);
  const data = join(dir, "data");
  const logPath = join(dir, "postgres.log");
  const port = freePort();
  let child: Deno.ChildProcess | null = null;
  const stop = async () => {
    const c = child;
    if (c === null) return;
    child = null;
    try {
      c.kill("SIGINT"); // fast shutdown
    } catch {
      // already gone
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      c.status,
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          try {
            c.kill("SIGKILL");
          } catch {
            // already gone
          }
          resolve();
        }, 5_000);
      }),
    ]);
    clearTimeout(timer);
    await c.status;
  };
  const dispose = async () => {
    await stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const log = () => {
    try {
      return Deno.readTextFileSync(logPath);
    } catch {
      return "";
    }
  };
  try {
    await _run(join(_BIN, "initdb"), [
      "-D",
      data,
      "-U",
      "cap",
      "--auth=trust",
      "-E",
      "UTF8",
      "--no-sync",
      "--no-instructions",
    ], user);
    const args = [
      "-D",
      data,
      "-p",
      String(port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      `unix_socket_directories=${dir}`,
      "-c",
      "fsync=off",
      "-c",
      "full_page_writes=off",
      "-c",
      "logging_collector=off",
    ];
    const logFile = await Deno.open(logPath, {
      write: true,
      create: true,
      truncate: true,
    });
    if (user !== null) await Deno.chown(logPath, user.uid, user.gid);
    const [program, argv] = user === null
      ? [join(_BIN, "postgres"), args]
      : ["setpriv", [
        `--reuid=${user.uid}`,
        `--regid=${user.gid}`,
        "--clear-groups",
        "--",
        join(_BIN, "postgres"),
        ...args,
      ]];
    child = new Deno.Command(program, {
      args: argv,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const writing = child.stderr.pipeTo(logFile.writable).catch(() => {});
    void writing;
    let exited = false;
    child.status.then(() => exited = true);
    const timeoutMs = options.readyTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    while (true) {
      options.signal?.throwIfAborted();
      if (exited) {
        throw new Error(
          `Cannot start PostgreSQL on port ${port}: it exited; log: ${log()}`,
        );
      }
      const ready = await new Deno.Command(join(_BIN, "pg_isready"), {
        args: ["-h", "127.0.0.1", "-p", String(port), "-U", "cap", "-q"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (ready.success) break;
      if (Date.now() > deadline) {
        throw new Error(
          `Cannot start PostgreSQL on port ${port}: not ready after ${timeoutMs} ms; log: ${log()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  let n = 0;
  const url = `postgres://cap@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    log,
    async newDatabase(name?: string): Promise<string> {
      const db = name ?? `fleet_${Date.now().toString(36)}_${++n}`;
      await _run("createdb", [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-U",
        "cap",
        db,
      ], null);
      return `postgres://cap@127.0.0.1:${port}/${db}`;
    },
    [Symbol.asyncDispose]: dispose,
  };
}
