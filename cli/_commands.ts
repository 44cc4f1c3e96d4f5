/**
 * The subcommands beyond `verify` and `run`, registered here so that each
 * loads its dependencies (gRPC, MQTT, the LLM client) only when used.
 * @module
 */
import { _register } from "./cap.ts";

void _register;
