// Stack every block on the first one, retrying a slipped grasp.
const blocks = detect("block");
if (blocks.length === 0) throw new Error("no blocks on the table");
const base = blocks[0];
let top = base.id;
for (const block of blocks.slice(1)) {
  let tries = 0;
  while (true) {
    try {
      pick(block.id);
      break;
    } catch (e) {
      if (e.code !== "grasp_failed" || tries >= 3) throw e;
      tries += 1;
      say("grasp slipped on " + block.id + ", retrying");
    }
  }
  place(top);
  top = block.id;
}
say("stacked " + blocks.length + " blocks");
