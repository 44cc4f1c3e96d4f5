import { runBackendContract } from "../backend_contract.ts";
import { SimBackend } from "./sim_backend.ts";

Deno.test("the sim backend passes the backend contract", (t) =>
  runBackendContract(t, {
    name: "sim",
    newBackend: (scene) => new SimBackend(scene),
  }));
