// instruction: put the yellow block in the bottom right corner
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
const block = detect("yellow block")[0];
pickWithRetry(block.id);
place({ x: ws.xMax - 0.04, y: ws.yMin + 0.04 });
