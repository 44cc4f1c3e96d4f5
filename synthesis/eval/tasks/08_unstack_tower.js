// instruction: unstack the tower so that every block is on the table
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
function topOf(id) {
  const above = detect().filter((o) => o.on === id);
  return above.length === 0 ? id : topOf(above[0].id);
}
const ws = workspace();
let slot = 0;
for (let i = 0; i < 20; i++) {
  const stacked = detect("block").filter((b) => b.on !== null);
  if (stacked.length === 0) break;
  pickWithRetry(topOf(stacked[0].id));
  place({ x: ws.xMin + 0.06 + slot * 0.08, y: ws.yMin + 0.06 });
  slot++;
}
