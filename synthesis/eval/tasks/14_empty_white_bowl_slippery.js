// instruction: take all the blocks out of the white bowl and put them on the table
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
const bowl = detect("white bowl")[0];
const ws = workspace();
let slot = 0;
for (const block of detect("block").filter((b) => b.on === bowl.id)) {
  pickWithRetry(block.id);
  place({ x: ws.xMax - 0.05 - slot * 0.08, y: ws.yMin + 0.05 });
  slot++;
}
