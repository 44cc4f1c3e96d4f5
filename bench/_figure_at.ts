/** The finite number at `path` (`"stopP99Ms.tightLoop"`) in `figures`, or `null`. */
export function figureAt(figures: object, path: string): number | null {
  let value: unknown = figures;
  for (const key of path.split(".")) {
    if (value === null || typeof value !== "object") return null;
    value = (value as Record<string, unknown>)[key];
  }
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}
