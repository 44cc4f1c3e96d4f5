/**
 * The console's web page and JSON API (Hono on `Deno.serve`).
 * @module
 */
export {
  createFleetApp,
  type FleetApp,
  type FleetAppOptions,
  type StopSender,
} from "./create_fleet_app.ts";
export { checkPassword, hashPassword } from "./hash_password.ts";
