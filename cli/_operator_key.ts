/**
 * `--operator-key <private.jwk.json>` (or `CAP_OPERATOR_KEY`): the key that
 * signs the operator commands (`run`, `resume`) the robot asks for before it
 * moves or releases its stop. Stopping never needs one.
 * @module
 */
import { signCommand } from "../verifier/mod.ts";
import { _readText } from "./_read_text.ts";
import { UsageError } from "./_usage_error.ts";

/** The flags {@linkcode OPERATOR_KEY_HELP} describes (single values). */
export const OPERATOR_FLAGS = ["operator-key", "robot"];

/** Help text for the operator key. */
export const OPERATOR_KEY_HELP =
  `  --operator-key <file>   private JWK of a key with the "operator" role that
                          signs the command (default: $CAP_OPERATOR_KEY)
  --robot <id>            the robot id the signed command names (default: the
                          id the robot reports)`;

/** The operator's private JWK from `--operator-key` or `CAP_OPERATOR_KEY`, or `null`. */
export async function _operatorKey(
  flags: Record<string, unknown>,
): Promise<(JsonWebKey & { kid?: string }) | null> {
  const path = typeof flags["operator-key"] === "string"
    ? flags["operator-key"]
    : Deno.env.get("CAP_OPERATOR_KEY");
  if (path === undefined || path === "") return null;
  const text = await _readText(path, "operator key");
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new UsageError(`cannot read operator key "${path}": not valid JSON`);
  }
  if (
    jwk === null || typeof jwk !== "object" ||
    (jwk as JsonWebKey).kty !== "OKP" ||
    typeof (jwk as JsonWebKey).d !== "string"
  ) {
    throw new UsageError(
      `cannot read operator key "${path}": not an Ed25519 private JWK (make one with "cap keygen")`,
    );
  }
  return jwk as JsonWebKey & { kid?: string };
}

/** What an operator command asks the robot to do. */
export interface OperatorCommandInit {
  command: "run" | "resume";
  /** The robot's id (the command is refused by any other robot). */
  robot: string;
  programId?: string;
  version?: number;
}

/**
 * The signed command's bytes for the gRPC `command` field (the JSON of its
 * DSSE envelope, signed with the verifier's `signCommand`), or `null`
 * without an operator key.
 */
export async function _signOperatorCommand(
  init: OperatorCommandInit,
  key: (JsonWebKey & { kid?: string }) | null,
): Promise<Uint8Array | null> {
  if (key === null) return null;
  let envelope;
  try {
    envelope = await signCommand(init, key, key.kid ? { keyId: key.kid } : {});
  } catch (error) {
    throw new UsageError(
      `cannot sign the operator command: ${(error as Error).message}`,
    );
  }
  return new TextEncoder().encode(JSON.stringify(envelope));
}

/** `{ command }` for an EdgeClient call (`deliver`, `run`, `resume`) when there is one, else `{}`. */
export function _withCommand(
  command: Uint8Array | null,
): { command?: Uint8Array } {
  return command === null ? {} : { command };
}

/**
 * The id the command must name: `--robot` when given, else the id the
 * robot reports (`GetWorld`).
 */
export async function _commandRobotId(
  flags: Record<string, unknown>,
  ask: () => Promise<{ robotId: string }>,
): Promise<string> {
  if (typeof flags.robot === "string") return flags.robot;
  return (await ask()).robotId;
}
