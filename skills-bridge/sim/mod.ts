/**
 * The built-in tabletop simulator backend and its scene files.
 * @module
 */
export {
  loadScene,
  type LoadSceneOptions,
  parseScene,
  type ParseSceneOptions,
  type Scene,
  SceneError,
  type SceneErrorOptions,
  type SceneFaults,
  type SceneObject,
} from "./scene.ts";
export { SimBackend, type SimBackendOptions } from "./sim_backend.ts";
