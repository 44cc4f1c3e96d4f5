import type { Scene } from "../skills-bridge/mod.ts";

const _fmt = (n: number) => (Object.is(n, -0) ? 0 : n).toFixed(2);

/**
 * A short, plain-text summary of a scene for the prompt: the detected objects
 * with positions and what each rests on, and the table bounds. Fault rates
 * are not revealed: the program must cope with failures anyway.
 *
 * @example
 * ```ts
 * import { parseScene } from "../skills-bridge/mod.ts";
 * import { summarizeScene } from "./summarize_scene.ts";
 * const scene = parseScene({ objects: [{ id: "red_block", kind: "block", color: "red", x: 0.1, y: -0.5 }] });
 * if (!summarizeScene(scene).includes("red_block")) throw new Error("missing");
 * ```
 */
export function summarizeScene(scene: Scene): string {
  const ws = scene.workspace;
  const lines = [
    `Workspace (table bounds, metres): x ${_fmt(ws.xMin)}..${
      _fmt(ws.xMax)
    }, y ${_fmt(ws.yMin)}..${_fmt(ws.yMax)}.`,
    `Detected objects (${scene.objects.length}):`,
  ];
  for (const obj of scene.objects) {
    const where = obj.on === null ? "on the table" : `on/in ${obj.on}`;
    lines.push(
      `- ${obj.id}: ${obj.color} ${obj.kind} at x=${_fmt(obj.x)}, y=${
        _fmt(obj.y)
      }, ${where}`,
    );
  }
  if (scene.objects.length === 0) lines.push("- (none)");
  return lines.join("\n");
}
