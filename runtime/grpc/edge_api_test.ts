import { assertEquals } from "../../test/_assert.ts";
import { EstopLatchedError, ExecutorBusyError } from "../executor/mod.ts";
import { ProgramNotFoundError, ServiceClosedError } from "../service/mod.ts";
import { EdgeApiError, statusOf } from "./edge_api.ts";

Deno.test("statusOf maps the executor's and the service's errors by their names", () => {
  assertEquals(statusOf(new ExecutorBusyError("run-1")), "failed_precondition");
  assertEquals(
    statusOf(new EstopLatchedError("a stop")),
    "failed_precondition",
  );
  assertEquals(statusOf(new ProgramNotFoundError("pick")), "not_found");
  assertEquals(statusOf(new ServiceClosedError()), "unavailable");
  assertEquals(
    statusOf(new EdgeApiError("permission_denied", "no")),
    "permission_denied",
  );
});

Deno.test("statusOf calls anything else internal, whatever it is named", () => {
  assertEquals(statusOf(new Error("boom")), "internal");
  assertEquals(statusOf("a string"), "internal");
  assertEquals(statusOf(null), "internal");
  // A name that is a key of every object is not a known error.
  const odd = new Error("odd");
  odd.name = "toString";
  assertEquals(statusOf(odd), "internal");
});
