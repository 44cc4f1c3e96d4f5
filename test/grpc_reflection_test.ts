/**
 * gRPC server reflection, as generic tools (grpcurl, grpcui, Postman) use
 * it, read by a reflection client we did not write (grpc-reflection-js).
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { Client as ReflectionClient } from "grpc-reflection-js";
import { assert, assertEquals } from "./_assert.ts";
import { makeKey, startNode } from "./_edge_fixture.ts";

Deno.test("server reflection lists cap.v1.EdgeRuntime and describes its methods", async () => {
  const key = await makeKey("ops");
  await using node = await startNode(key, { stateDir: `${key.dir}/state` });
  const reflection = new ReflectionClient(
    `127.0.0.1:${node.grpc.port}`,
    grpc.credentials.createInsecure(),
  );
  try {
    const services = await reflection.listServices();
    assert(services.includes("cap.v1.EdgeRuntime"), JSON.stringify(services));
    assert(
      services.includes("grpc.health.v1.Health"),
      JSON.stringify(services),
    );
    const root = await reflection.fileContainingSymbol("cap.v1.EdgeRuntime");
    const service = root.lookupService("cap.v1.EdgeRuntime");
    for (
      const method of [
        "Deliver",
        "Run",
        "Stop",
        "ListRuns",
        "GetEvidence",
        "GetWorld",
      ]
    ) {
      assert(method in service.methods, `reflection lacks ${method}`);
    }
    assertEquals(
      service.methods.ListRuns!.requestType,
      ".cap.v1.ListRunsRequest",
    );
  } finally {
    // deno-lint-ignore no-explicit-any
    ((reflection as any).grpcClient as grpc.Client | undefined)?.close();
    await Deno.remove(key.dir, { recursive: true });
  }
});
