/**
 * gRPC: the `cap.v1.EdgeRuntime` server and the client operators and the
 * cloud use.
 * @module
 */
export {
  type GrpcServerHandle,
  type GrpcServerOptions,
  type GrpcTls,
  startGrpcServer,
} from "./grpc_server.ts";
export {
  EdgeCallError,
  EdgeClient,
  type EdgeClientOptions,
  type EdgeClientTls,
  type WireProgram,
  type WireReceipt,
  type WireRunEvent,
  type WireRunFilter,
  type WireRunSummary,
  type WireWorld,
} from "./edge_client.ts";
