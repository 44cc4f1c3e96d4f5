// instruction: put all the blocks in the blue bowl
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
for (const block of detect("block")) {
  pickWithRetry(block.id);
  place(bowl.id);
}
