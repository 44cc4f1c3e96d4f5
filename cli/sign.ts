import { join } from "node:path";
import {
  DEFAULT_MAX_MANIFEST_LIFETIME_DAYS,
  generateSigningKey,
  OPERATOR_ROLE,
  PROGRAM_SIGNER_ROLE,
  signManifest,
  type VerifierIssue,
  verifyProgram,
} from "../verifier/mod.ts";
import { sha256Hex } from "../runtime/evidence/mod.ts";
import { DEFAULT_CAPS } from "../runtime/executor/mod.ts";
import { TABLETOP_API } from "../skills-bridge/mod.ts";
import { _parseFlags } from "./_args.ts";
import { _readText } from "./_read_text.ts";
import { UsageError } from "./_usage_error.ts";

const DEFAULT_ROLES = [PROGRAM_SIGNER_ROLE, OPERATOR_ROLE];

const KEYGEN_HELP =
  `Usage: deno task cap keygen --out <dir> [--key-id ID] [--roles ROLE,…]

Writes <dir>/private.jwk.json (an Ed25519 signing key; keep it secret) and
<dir>/trust.json (a trust store holding the matching public key, for the
robot). --roles sets what the key may sign: "${PROGRAM_SIGNER_ROLE}" (programs)
and "${OPERATOR_ROLE}" (commands that run programs or resume after a stop);
default ${DEFAULT_ROLES.join(",")}, fine for a bench. Give production keys
one role each. keys/ and .cap/ are git-ignored.

Options:
  --out <dir>       where to write (required; made if missing)
  --key-id <id>     the key's id (default key-<8 random hex digits>)
  --roles <list>    comma-separated roles (default ${DEFAULT_ROLES.join(",")})
  -h, --help        show this help

Exit: 0 written, 2 bad usage or a key exists there already (never overwritten).`;

const ROLE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** `cap keygen --out <dir> [--roles …]`. */
export async function keygenCommand(args: string[]): Promise<number> {
  const flags = _parseFlags(args, { string: ["out", "key-id", "roles"] });
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
  const roles = typeof flags.roles === "string"
    ? flags.roles.split(",").map((r) => r.trim())
    : DEFAULT_ROLES;
  const badRole = roles.find((r) => !ROLE.test(r));
  if (badRole !== undefined || roles.length === 0) {
    throw new UsageError(
      `--roles must be a comma-separated list of roles (1-64 letters, digits, '_', '.', ':' or '-'), got ${
        JSON.stringify(flags.roles)
      }`,
    );
  }
  const unknown = roles.filter((r) => !DEFAULT_ROLES.includes(r));
  if (unknown.length > 0) {
    console.error(
      `warning: role(s) ${
        unknown.map((r) => JSON.stringify(r)).join(", ")
      } mean nothing to a robot (it knows ${DEFAULT_ROLES.join(", ")})`,
    );
  }
  let generated;
  try {
    generated = await generateSigningKey(keyId, { roles: [...new Set(roles)] });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { privateJwk, trustStore } = generated;
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
    `wrote ${privatePath} (key "${keyId}", roles ${
      [...new Set(roles)].join(",")
    }) and ${trustPath}`,
  );
  return 0;
}

const SIGN_HELP =
  `Usage: deno task cap sign <program.js> --key <private.jwk.json> --out <envelope.json>
         [--program-id ID] [--version N] [--instruction TEXT] [--expires-in SECONDS]
         [--robot ID]… [--check EXPR]… [--timeout-ms N] [--memory-mb N] [--max-calls N]

Signs a program into a DSSE envelope (Ed25519) for delivery to robots. The
program and its checks are verified first, with the verifier the robot runs:
a program it refuses is not signed (exit 1, the issues on stderr).
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

Exit: 0 signed, 1 the verifier refuses the program (nothing written), 2 bad
usage (missing file, unreadable key).`;

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
  const checks = (flags.check as string[] | undefined) ?? [];
  const issues = _verifyForSigning(source, checks);
  if (issues.length > 0) {
    console.error(
      `Cannot sign "${path}": the verifier refuses it (${issues.length} issue(s)); no envelope written`,
    );
    for (const { where, issue } of issues.slice(0, 20)) {
      console.error(
        `  ${where}${issue.line}:${issue.column} ${issue.code}: ${issue.message}`,
      );
    }
    if (issues.length > 20) console.error(`  … and ${issues.length - 20} more`);
    return 1;
  }
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
  if (expiresIn > DEFAULT_MAX_MANIFEST_LIFETIME_DAYS * 86_400) {
    console.error(
      `warning: --expires-in ${expiresIn} is longer than ${DEFAULT_MAX_MANIFEST_LIFETIME_DAYS} days; robots with the default limits.maxManifestLifetimeDays refuse it (lifetime_too_long)`,
    );
  }
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
    checks,
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

/** The issues the robot's verifier finds in the program and its checks. */
function _verifyForSigning(
  source: string,
  checks: readonly string[],
): { where: string; issue: VerifierIssue }[] {
  const found: { where: string; issue: VerifierIssue }[] = [];
  const program = verifyProgram(source, { api: TABLETOP_API });
  for (const issue of program.issues) found.push({ where: "", issue });
  checks.forEach((check, i) => {
    const report = verifyProgram(check, { api: TABLETOP_API, mode: "check" });
    for (const issue of report.issues) {
      found.push({ where: `check ${i + 1} `, issue });
    }
  });
  return found;
}

export { generateSigningKey as _generateSigningKey };
