/**
 * The live terminal table of `cap fleet`: folds robot messages into
 * per-robot state. Pure, no I/O and no dependencies.
 * @module
 */
export {
  FleetView,
  type FleetViewOptions,
  type RobotView,
} from "./fleet_view.ts";
