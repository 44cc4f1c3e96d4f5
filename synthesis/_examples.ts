/**
 * Code-as-Policies style examples for the prompt: the instruction as a
 * comment, then the code. They use only the skills, the allowed builtins and
 * the language subset, and show the patterns the tasks need: retry after a
 * grasp slip, clearing a block before picking what is under it, placing
 * relative to another object and to the table edges.
 */
export const _EXAMPLES: readonly string[] = [
  `// instruction: put the green block in the red bowl.
function pickWithRetry(id) {
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      pick(id);
      return;
    } catch (e) {
      if (e.code !== "grasp_failed" || attempt === 5) throw e;
    }
  }
}
const block = detect("green block")[0];
const bowl = detect("red bowl")[0];
pickWithRetry(block.id);
place(bowl.id);`,
  `// instruction: move the yellow block 5 cm toward the bottom of the table.
const yellow = detect("yellow block")[0];
pickWithRetry(yellow.id);
place({ x: yellow.x, y: yellow.y - 0.05 });`,
  `// instruction: put the blue bowl in the top left corner.
const ws = workspace();
const blueBowl = detect("blue bowl")[0];
pickWithRetry(blueBowl.id);
place({ x: ws.xMin + 0.05, y: ws.yMax - 0.05 });`,
  `// instruction: put the red block on the table (it may be under other blocks).
function clearTop(id) {
  const above = detect().filter((o) => o.on === id);
  for (const obj of above) {
    clearTop(obj.id);
    pickWithRetry(obj.id);
    const ws = workspace();
    place({ x: Math.min(ws.xMax - 0.05, obj.x + 0.1), y: obj.y });
  }
}
const red = detect("red block")[0];
clearTop(red.id);
if (red.on !== null) {
  pickWithRetry(red.id);
  place({ x: red.x, y: red.y - 0.1 });
}`,
];
