/**
 * The subcommands beyond `verify` and `run`, registered here so that each
 * loads its dependencies (gRPC, MQTT, the LLM client) only when used.
 * @module
 */
import { _register } from "./cap.ts";

_register(
  "keygen",
  "write an Ed25519 signing key and a trust store",
  async () => (await import("./sign.ts")).keygenCommand,
);
_register(
  "sign",
  "sign a program into a DSSE envelope",
  async () => (await import("./sign.ts")).signCommand,
);
_register(
  "send",
  "deliver a signed program to a robot over gRPC (--run to run it)",
  async () => (await import("./remote.ts")).sendCommand,
);
_register(
  "exec",
  "run a program cached on a robot, streaming its events",
  async () => (await import("./remote.ts")).execCommand,
);
_register(
  "stop",
  "emergency stop of a robot",
  async () => (await import("./remote.ts")).simpleRemote("stop"),
);
_register(
  "resume",
  "allow runs again after an emergency stop",
  async () => (await import("./remote.ts")).simpleRemote("resume"),
);
_register(
  "list",
  "list the programs cached on a robot",
  async () => (await import("./remote.ts")).simpleRemote("list"),
);
_register(
  "synth",
  "write a program for an instruction with an LLM, verified and dry-run",
  async () => (await import("./synth.ts")).synthCommand,
);
_register(
  "eval",
  "run the tabletop evaluation suite through synthesis",
  async () => (await import("./eval.ts")).evalCommand,
);
_register(
  "fleet",
  "live view of every robot on an MQTT broker",
  async () => (await import("./fleet.ts")).fleetCommand,
);
_register(
  "replay",
  "re-run a recorded run from the fleet console against its recorded skill results",
  async () => (await import("./replay.ts")).replayCommand,
);
