// instruction: put the green block halfway between the red bowl and the blue bowl
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
const red = detect("red bowl")[0];
const blue = detect("blue bowl")[0];
const block = detect("green block")[0];
pickWithRetry(block.id);
place({ x: (red.x + blue.x) / 2, y: (red.y + blue.y) / 2 });
