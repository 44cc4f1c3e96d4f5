// Stack every block into one tower: build on the tallest stack there is,
// move the loose blocks onto it one by one, and retry a slipped grasp.
function towerUnder(top, objects) {
  const tower = [top.id];
  let under = objects.find((o) => o.id === top.on);
  while (under !== undefined && under.kind === "block") {
    tower.push(under.id);
    const next = under.on;
    under = objects.find((o) => o.id === next);
  }
  return tower;
}

function pickWithRetry(id) {
  for (let tries = 0;; tries++) {
    try {
      pick(id);
      return;
    } catch (e) {
      if (e.code !== "grasp_failed" || tries >= 5) throw e;
      say("grasp slipped on " + id + ", retrying");
    }
  }
}

const count = detect("block").length;
if (count === 0) throw new Error("no blocks on the table");
for (let moves = 0; moves < count; moves++) {
  const objects = detect();
  const clear = objects.filter((o) =>
    o.kind === "block" && !objects.some((other) => other.on === o.id)
  );
  // The top of the tallest stack (the first one on a tie).
  const top = clear.reduce((best, o) => (o.z > best.z ? o : best));
  const tower = towerUnder(top, objects);
  const loose = clear.filter((o) => !tower.includes(o.id));
  if (loose.length === 0) break;
  pickWithRetry(loose[0].id);
  place(top.id);
}
say("stacked " + count + " blocks");
