import { join } from "node:path";
import { generateSigningKey, signManifest } from "../verifier/mod.ts";
import { sha256Hex } from "../runtime/evidence/mod.ts";
import { DEFAULT_CAPS } from "../runtime/executor/mod.ts";
import { TABLETOP_API } from "../skills-bridge/mod.ts";
import { _parseFlags } from "./_args.ts";
import { _readText } from "./_read_text.ts";
import { UsageError } from "./_usage_error.ts";

const KEYGEN_HELP = `Usage: deno task cap keygen --out <dir> [--key-id ID]

Writes <dir>/private.jwk.json (an Ed25519 signing key; keep it secret) and
<dir>/trust.json (a trust store holding the matching public key with the
"program-signer" role, for the robot). keys/ and .cap/ are git-ignored.

Options:
  --out <dir>       where to write (required; made if missing)
  --key-id <id>     the key's id (default key-<8 random hex digits>)
  -h, --help        show this help

Exit: 0 written, 2 bad usage or a key exists there already (never overwritten).`;

/** `cap keygen --out <dir>`. */
export async function keygenCommand(args: string[]): Promise<number> {
  const flags = _parseFlags(args, { string: ["out", "key-id"] });
  if (flags.help) {
    console.log(KEYGEN_HELP);
    return 0;
  }
  if (typeof flags.out !== "string") {
    throw new UsageError(`needs --out <dir>\n\n${KEYGEN_HELP}`);
  }
  if (flags._.length > 0) {
    throw new UsageError(`unexpected argument "${flags._[0]}"`);
  }
  const keyId = typeof flags["key-id"] === "string"
    ? flags["key-id"]
    : `key-${crypto.randomUUID().slice(0, 8)}`;
  const { privateJwk, trustStore } = await generateSigningKey(keyId);
  await Deno.mkdir(flags.out, { recursive: true });
  const privatePath = join(flags.out, "private.jwk.json");
  const trustPath = join(flags.out, "trust.json");
  try {
    await Deno.writeTextFile(
      privatePath,
      JSON.stringify(privateJwk, null, 2) + "\n",
      {
        createNew: true,
        mode: 0o600,
      },
    );
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new UsageError(
        `"${privatePath}" exists already; refusing to overwrite a signing key`,
      );
    }
    throw error;
  }
  await Deno.writeTextFile(
    trustPath,
    JSON.stringify(trustStore, null, 2) + "\n",
  );
  console.log(
    `wrote ${privatePath} (key "${keyId}") and ${trustPath}`,
  );
  return 0;
}

const SIGN_HELP =
  `Usage: deno task cap sign <program.js> --key <private.jwk.json> --out <envelope.json>
         [--program-id ID] [--version N] [--instruction TEXT] [--expires-in SECONDS]
         [--robot ID]… [--check EXPR]… [--timeout-ms N] [--memory-mb N] [--max-calls N]

Signs a program into a DSSE envelope (Ed25519) for delivery to robots.
Options:
  --key <file>          the signer's private JWK (required; from "cap keygen")
  --out <file>          where to write the envelope (required)
  --program-id <id>     default: the file name without extension
  --version N           default: the current Unix time in seconds
  --instruction <text>  the instruction the program was written for
  --expires-in N        seconds until the envelope expires (default 604800, 7 days)
  --robot <id>          a robot it is for (repeatable; default every robot, "*")
  --check <expr>        a postcondition to run after the program (repeatable)
  --timeout-ms N        budget: wall deadline (default ${DEFAULT_CAPS.timeoutMs})
  --memory-mb N         budget: heap limit in MiB (default ${
    DEFAULT_CAPS.memoryBytes / 1024 / 1024
  })
  --max-calls N         budget: skill calls (default ${DEFAULT_CAPS.maxSkillCalls})
  -h, --help            show this help

Exit: 0 signed, 2 bad usage (missing file, unreadable key).`;

/** `cap sign <program.js> --key … --out …`. */
export async function signCommand(args: string[]): Promise<number> {
  const flags = _parseFlags(args, {
    string: [
      "key",
      "out",
      "program-id",
      "version",
      "instruction",
      "expires-in",
      "timeout-ms",
      "memory-mb",
      "max-calls",
    ],
    collect: ["robot", "check"],
    integers: ["version", "expires-in", "timeout-ms", "memory-mb", "max-calls"],
  });
  if (flags.help) {
    console.log(SIGN_HELP);
    return 0;
  }
  if (flags._.length !== 1) {
    throw new UsageError(`expects one program file\n\n${SIGN_HELP}`);
  }
  if (typeof flags.key !== "string") {
    throw new UsageError("needs --key <private.jwk.json>");
  }
  if (typeof flags.out !== "string") {
    throw new UsageError("needs --out <envelope.json>");
  }
  const path = flags._[0]!;
  const source = await _readText(path, "program");
  let privateJwk: JsonWebKey & { kid?: string };
  try {
    privateJwk = JSON.parse(await _readText(flags.key, "signing key"));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(
      `cannot read signing key "${flags.key}": not valid JSON`,
    );
  }
  const programId = typeof flags["program-id"] === "string"
    ? flags["program-id"]
    : (path.split("/").pop() ?? "program").replace(/\.[^.]*$/, "").replace(
      /[^A-Za-z0-9_.:-]/g,
      "-",
    );
  const now = new Date();
  const expiresIn = Number(flags["expires-in"] ?? 7 * 24 * 3600);
  const manifest = {
    programId,
    version: Number(flags.version ?? Math.floor(now.getTime() / 1000)),
    source,
    instruction: typeof flags.instruction === "string"
      ? flags.instruction
      : null,
    apiVersion: TABLETOP_API.version,
    robots: (flags.robot as string[] | undefined)?.length
      ? flags.robot as string[]
      : ["*"],
    issuedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + expiresIn * 1000).toISOString(),
    budgets: {
      timeoutMs: Number(flags["timeout-ms"] ?? DEFAULT_CAPS.timeoutMs),
      memoryBytes: flags["memory-mb"]
        ? Number(flags["memory-mb"]) * 1024 * 1024
        : DEFAULT_CAPS.memoryBytes,
      maxSkillCalls: Number(flags["max-calls"] ?? DEFAULT_CAPS.maxSkillCalls),
    },
    checks: (flags.check as string[] | undefined) ?? [],
    provenance: {
      model: "human",
      attempts: 0,
      sourceSha256: await sha256Hex(source),
    },
  };
  let envelope;
  try {
    envelope = await signManifest(
      manifest,
      privateJwk,
      privateJwk.kid ? { keyId: privateJwk.kid } : {},
    );
  } catch (error) {
    throw new UsageError(`cannot sign "${path}": ${(error as Error).message}`);
  }
  await Deno.writeTextFile(flags.out, JSON.stringify(envelope, null, 2) + "\n");
  console.log(
    `signed "${programId}" v${manifest.version} with key "${
      envelope.signatures[0]?.keyid
    }" → ${flags.out}`,
  );
  return 0;
}

export { generateSigningKey as _generateSigningKey };
