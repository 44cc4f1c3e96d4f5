// instruction: put the blocks that are not red in the red bowl
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
const bowl = detect("red bowl")[0];
for (const block of detect("block")) {
  if (block.color === "red") continue;
  pickWithRetry(block.id);
  place(bowl.id);
}
