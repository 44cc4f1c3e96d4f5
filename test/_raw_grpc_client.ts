/**
 * A bare `@grpc/grpc-js` client of `cap.v1.EdgeRuntime` built from the
 * proto files, as any third party would build one (not our EdgeClient).
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const PROTOS = new URL("../protos/", import.meta.url).pathname;

/** A stub with the service's methods, as grpc-js makes them (untyped). */
// deno-lint-ignore no-explicit-any
export type RawStub = any;

/** A bare grpc-js client of cap.v1.EdgeRuntime at `target`, insecure. */
export function rawClient(target: string): RawStub {
  const definition = protoLoader.loadSync(`${PROTOS}cap/v1/edge.proto`, {
    includeDirs: [PROTOS],
    longs: Number,
    enums: String,
    defaults: true,
  });
  // deno-lint-ignore no-explicit-any
  const loaded = grpc.loadPackageDefinition(definition) as any;
  return new loaded.cap.v1.EdgeRuntime(
    target,
    grpc.credentials.createInsecure(),
  );
}
