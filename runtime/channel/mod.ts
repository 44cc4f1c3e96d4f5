/**
 * The framed local channel between the core and its helper processes
 * (sandbox hosts, the gRPC gateway): newline-delimited JSON, each message
 * checked against a schema on arrival.
 * @module
 */
export {
  ChannelProtocolError,
  LineChannel,
  type LineChannelOptions,
  type MessageSchema,
  type RawReader,
  type RawWriter,
} from "./line_channel.ts";
export { forEachLine } from "./for_each_line.ts";
export {
  HELPER_V8_FLAGS,
  HelperPermissionError,
  helperProgram,
} from "./helper_program.ts";
