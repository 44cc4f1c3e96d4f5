import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/** The loaded service definitions of `protos/`. */
export interface _Protos {
  EdgeRuntime: grpc.ServiceClientConstructor;
  Health: grpc.ServiceClientConstructor;
  /** The package definition both were loaded from (server reflection serves it). */
  definition: protoLoader.PackageDefinition;
}

let cached: _Protos | null = null;

/** The protos folder of this checkout. */
export const PROTOS_DIR = new URL("../../protos/", import.meta.url).pathname;

/** Loads `cap/v1/edge.proto` and the standard health proto once. */
export function _loadProtos(): _Protos {
  if (cached !== null) return cached;
  // Absolute paths: proto-loader resolves relative ones with fs.accessSync,
  // which on Deno needs --allow-sys (uid/gid), a permission the service and
  // the CLI do not have.
  const definition = protoLoader.loadSync(
    [
      `${PROTOS_DIR}cap/v1/edge.proto`,
      `${PROTOS_DIR}grpc/health/v1/health.proto`,
    ],
    {
      includeDirs: [PROTOS_DIR],
      keepCase: false,
      longs: Number,
      enums: String,
      defaults: true,
    },
  );
  // deno-lint-ignore no-explicit-any
  const loaded = grpc.loadPackageDefinition(definition) as any;
  cached = {
    EdgeRuntime: loaded.cap.v1.EdgeRuntime,
    Health: loaded.grpc.health.v1.Health,
    definition,
  };
  return cached;
}
