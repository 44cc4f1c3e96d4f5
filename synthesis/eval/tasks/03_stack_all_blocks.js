// instruction: stack all the blocks
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
const blocks = detect("block");
for (let i = 1; i < blocks.length; i++) {
  pickWithRetry(blocks[i].id);
  place(blocks[i - 1].id);
}
