// Put every block in the bowl of its color.
const bowls = detect("bowl");
for (const block of detect("block")) {
  const bowl = bowls.find((b) => b.color === block.color);
  if (bowl === undefined) continue;
  pick(block.id);
  place(bowl.id);
}
