// instruction: move the blue block to the middle of the table
function pickWithRetry(id) {
  for (let attempt = 1; attempt <= 8; attempt++) {
    try {
      pick(id);
      return;
    } catch (e) {
      if (e.code !== "grasp_failed" || attempt === 8) throw e;
    }
  }
}
const ws = workspace();
const block = detect("blue block")[0];
pickWithRetry(block.id);
place({ x: (ws.xMin + ws.xMax) / 2, y: (ws.yMin + ws.yMax) / 2 });
