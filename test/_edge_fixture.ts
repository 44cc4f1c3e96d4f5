/**
 * Test helper: a signing key and trust store, signed programs, and an edge
 * node (service + gRPC on a free loopback port) over a temporary state dir.
 * @module
 */
import {
  type EdgeNode,
  parseServiceConfig,
  startEdgeNode,
} from "../runtime/mod.ts";
import { EdgeClient, type EdgeClientOptions } from "../runtime/grpc/mod.ts";
import {
  type Envelope,
  generateSigningKey,
  type Manifest,
  OPERATOR_ROLE,
  PROGRAM_SIGNER_ROLE,
  signCommand,
  signManifest,
} from "../verifier/mod.ts";

/** A key the robot trusts. */
export interface TestKey {
  keyId: string;
  privateJwk: JsonWebKey;
  trustPath: string;
  dir: string;
}

/** Makes a temp dir with a signing key and its trust store. */
export async function makeKey(keyId = "k1"): Promise<TestKey> {
  const dir = await Deno.makeTempDir({ prefix: "cap-edge-test-" });
  // Signs programs and operator commands (a bench key; production keys get one role).
  const { privateJwk, trustStore } = await generateSigningKey(keyId, {
    roles: [PROGRAM_SIGNER_ROLE, OPERATOR_ROLE],
  });
  const trustPath = `${dir}/trust.json`;
  await Deno.writeTextFile(trustPath, JSON.stringify(trustStore));
  return { keyId, privateJwk, trustPath, dir };
}

/** A manifest with sane defaults, overridable. */
export function manifest(overrides: Partial<Manifest> = {}): Manifest {
  const now = Date.now();
  return {
    programId: "pick-red",
    version: 1,
    source: 'pick("red_block");\nplace("blue_bowl");',
    instruction: "put the red block in the blue bowl",
    apiVersion: "tabletop/1",
    robots: ["*"],
    issuedAt: new Date(now - 1000).toISOString(),
    expiresAt: new Date(now + 3600_000).toISOString(),
    budgets: {
      timeoutMs: 30_000,
      memoryBytes: 32 * 1024 * 1024,
      maxSkillCalls: 100,
    },
    checks: [],
    provenance: { model: "test", attempts: 1 },
    ...overrides,
  } as Manifest;
}

/** Signs `overrides` onto the default manifest; returns the envelope JSON text. */
export async function signed(
  key: TestKey,
  overrides: Partial<Manifest> = {},
): Promise<string> {
  const envelope: Envelope = await signManifest(
    manifest(overrides),
    key.privateJwk,
    { keyId: key.keyId },
  );
  return JSON.stringify(envelope);
}

/** Starts an edge node for robot `arm-01` on a free port over `stateDir`. */
export async function startNode(
  key: TestKey,
  options: {
    stateDir?: string;
    config?: Record<string, unknown>;
    log?: boolean;
  } = {},
): Promise<EdgeNode> {
  const config = parseServiceConfig({
    robotId: "arm-01",
    stateDir: options.stateDir ?? `${key.dir}/state`,
    grpc: { listen: "127.0.0.1:0" },
    trustStore: key.trustPath,
    backend: { kind: "sim" },
    caps: {
      timeoutMs: 30_000,
      memoryBytes: 32 * 1024 * 1024,
      maxSkillCalls: 1000,
    },
    ...options.config,
  });
  return await startEdgeNode(config, {
    ...(options.log ? { log: (level, msg) => console.error(level, msg) } : {}),
  });
}

/**
 * A gRPC client of robot `robotId` at `target` that signs an operator
 * command with `key` for every call that moves the robot or resumes it.
 */
export function clientFor(
  target: string,
  key: TestKey,
  robotId: string,
  options: EdgeClientOptions = {},
): EdgeClient {
  return new EdgeClient(target, {
    ...options,
    operator: { privateJwk: key.privateJwk, keyId: key.keyId, robotId },
  });
}

/**
 * A fresh operator command (the DSSE envelope's JSON text) signed with
 * `key` for robot `robotId`: pass it as `command` to the service's `run`,
 * `resume` or `deliver` with `run`.
 */
export async function commandFor(
  key: TestKey,
  robotId: string,
  what:
    | { command: "run"; programId: string; version?: number }
    | { command: "resume" },
  options: { issuedAt?: string; expiresAt?: string; nonce?: string } = {},
): Promise<string> {
  return JSON.stringify(
    await signCommand(
      { ...what, robot: robotId, ...options },
      key.privateJwk,
      { keyId: key.keyId },
    ),
  );
}

/** Writes `key`'s private JWK (with its `kid`) for `--operator-key`; returns the path. */
export async function operatorKeyFile(key: TestKey): Promise<string> {
  const path = `${key.dir}/operator.jwk.json`;
  await Deno.writeTextFile(
    path,
    JSON.stringify({ ...key.privateJwk, kid: key.keyId }),
  );
  return path;
}

/**
 * Adds a second key to `key`'s trust store with `roles` (default
 * `["operator"]`); returns it (same dir and trust store as `key`).
 */
export async function addKey(
  key: TestKey,
  keyId: string,
  roles: string[] = [OPERATOR_ROLE],
): Promise<TestKey> {
  const extra = await generateSigningKey(keyId, { roles });
  const trust = JSON.parse(await Deno.readTextFile(key.trustPath));
  trust.keys.push(...extra.trustStore.keys);
  await Deno.writeTextFile(key.trustPath, JSON.stringify(trust));
  return {
    keyId,
    privateJwk: extra.privateJwk,
    trustPath: key.trustPath,
    dir: key.dir,
  };
}

/**
 * Runs `body` with a fresh key, an edge node for `arm-01` (with `config`
 * merged into the default) and a gRPC client that signs operator commands
 * with the key; closes both and removes the key's dir after.
 */
export async function withNode(
  body: (node: EdgeNode, client: EdgeClient, key: TestKey) => Promise<void>,
  config?: Record<string, unknown>,
): Promise<void> {
  const key = await makeKey();
  try {
    await using node = await startNode(key, config ? { config } : {});
    using client = clientFor(`127.0.0.1:${node.grpc.port}`, key, "arm-01");
    await body(node, client, key);
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
}
