import { runBackendContract } from "../backend_contract.ts";
import { _ros2OverSim } from "./_test_setup.ts";

Deno.test("the ros2 backend through a real bridge process over the rclnodejs stand-in passes the backend contract", (t) =>
  runBackendContract(t, { name: "ros2", newBackend: _ros2OverSim }));
