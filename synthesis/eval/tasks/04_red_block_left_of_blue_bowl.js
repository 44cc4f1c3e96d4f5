// instruction: put the red block 10 cm left of the blue bowl
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
const bowl = detect("blue bowl")[0];
const block = detect("red block")[0];
pickWithRetry(block.id);
place({ x: bowl.x - 0.1, y: bowl.y });
