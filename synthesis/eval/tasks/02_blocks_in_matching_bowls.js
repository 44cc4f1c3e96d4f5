// instruction: put every block in the bowl of its color
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
for (const block of detect("block")) {
  const bowl = detect(block.color + " bowl")[0];
  if (bowl === undefined) continue;
  pickWithRetry(block.id);
  place(bowl.id);
}
