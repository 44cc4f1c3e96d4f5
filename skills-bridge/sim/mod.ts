/**
 * The built-in tabletop simulator backend and its scene files.
 * @module
 */
export {
  loadScene,
  type LoadSceneOptions,
  parseScene,
  type ParseSceneOptions,
  Scene,
  SceneError,
  type SceneErrorOptions,
  type SceneObject,
} from "./scene.ts";
export { SimBackend, type SimBackendOptions } from "./sim_backend.ts";
