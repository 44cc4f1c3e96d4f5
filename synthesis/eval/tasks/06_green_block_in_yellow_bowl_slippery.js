// instruction: put the green block in the yellow bowl
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
const block = detect("green block")[0];
const bowl = detect("yellow bowl")[0];
pickWithRetry(block.id);
place(bowl.id);
