// instruction: put the red block in the blue bowl
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
const block = detect("red block")[0];
const bowl = detect("blue bowl")[0];
pickWithRetry(block.id);
place(bowl.id);
