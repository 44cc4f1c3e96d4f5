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
export {
  GatewayStartError,
  type GrpcGateway,
  type GrpcGatewayOptions,
  startGrpcGateway,
} from "./grpc_gateway.ts";
export {
  type EdgeApi,
  EdgeApiError,
  type EdgeStatus,
  statusOf,
} from "./edge_api.ts";
