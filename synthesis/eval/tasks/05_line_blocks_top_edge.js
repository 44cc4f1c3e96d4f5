// instruction: line the blocks up along the top edge of the table
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
const blocks = detect("block");
const left = ws.xMin + 0.05;
const right = ws.xMax - 0.05;
const step = blocks.length > 1 ? (right - left) / (blocks.length - 1) : 0;
for (let i = 0; i < blocks.length; i++) {
  pickWithRetry(blocks[i].id);
  place({ x: left + i * step, y: ws.yMax - 0.03 });
}
