/**
 * Guest programs the core bench runs. Every one passes the verifier against
 * the tabletop API; the stop programs begin with `say("go")` so the bench can
 * tell that the guest really runs before it stops it.
 * @module
 */

/**
 * A realistic ~2 KB code-as-policies program whose first statement is a
 * skill call: the admission figure ends when that call reaches the host.
 */
export const ADMISSION_PROGRAM = `say("start");

// Sort every block into the bowl of its color; blocks without a bowl go
// to a free spot on the table, in a row along the back edge.
function bowlFor(block, bowls) {
  for (const bowl of bowls) {
    if (bowl.color === block.color) return bowl;
  }
  return null;
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

function freeSpot(index, area) {
  const step = 0.08;
  const x = clamp(area.xMin + 0.05 + index * step, area.xMin, area.xMax);
  const y = clamp(area.yMax - 0.05, area.yMin, area.yMax);
  return { x: x, y: y };
}

function pickWithRetry(id, attempts) {
  let lastError = null;
  for (let i = 0; i < attempts; i++) {
    try {
      pick(id);
      return true;
    } catch (error) {
      lastError = error;
      if (error.code !== "grasp_failed") throw error;
      say("grasp slipped on " + id + ", retrying");
    }
  }
  say("giving up on " + id + ": " + (lastError ? lastError.message : "?"));
  return false;
}

function describe(objects) {
  const counts = {};
  for (const o of objects) {
    const key = o.color + " " + o.kind;
    counts[key] = (counts[key] || 0) + 1;
  }
  return Object.keys(counts)
    .map((key) => counts[key] + " x " + key)
    .join(", ");
}

function sortIntoBowls() {
  const area = workspace();
  const bowls = detect("bowl");
  const blocks = detect("block").filter((b) => b.on === null || b.on !== "");
  say("seen: " + describe(bowls.concat(blocks)));
  let moved = 0;
  let parked = 0;
  for (const block of blocks) {
    if (holding() !== null) place(freeSpot(parked++, area));
    const bowl = bowlFor(block, bowls);
    if (bowl !== null && block.on === bowl.id) continue;
    if (!pickWithRetry(block.id, 3)) continue;
    if (bowl !== null) {
      place(bowl.id);
      moved++;
    } else {
      place(freeSpot(parked++, area));
    }
  }
  return { moved: moved, parked: parked };
}

const summary = sortIntoBowls();
const left = detect("block").filter((b) => {
  const bowl = bowlFor(b, detect("bowl"));
  return bowl !== null && b.on !== bowl.id;
});
say("moved " + summary.moved + ", parked " + summary.parked +
  ", misplaced " + left.length);
`;

/** The trivial program of the throughput and peer figures. */
export const TRIVIAL_PROGRAM = 'say("hi");';

/** The four stop cases: what the guest is doing when `stop()` comes. */
export const STOP_PROGRAMS = {
  /** Spins in a loop that never calls out. */
  tightLoop: `say("go");
let n = 0;
while (true) {
  n = (n + 1) % 1000;
}
`,
  /** Allocates and drops objects as fast as it can, under its memory cap. */
  memoryThrash: `say("go");
let keep = [];
while (true) {
  keep.push({ id: keep.length, tag: "x" + keep.length, xs: [1, 2, 3, 4] });
  if (keep.length > 20000) keep = [];
}
`,
  /**
   * Compares two 4-million-character strings over and over: each comparison
   * runs in C, where QuickJS never polls its interrupt handler, so only the
   * kill of its host stops it.
   */
  longBuiltin: `const s = "a".repeat(4000000);
const t = s + "b";
say("go");
let n = 0;
while (true) {
  if (s < t) n = n + 1;
}
`,
  /** Blocks inside a long skill call (a 30 s wait). */
  inSkill: `say("go");
wait(30);
say("never");
`,
  /** Recurses to the stack cap, catches the overflow, and does it again. */
  deepRecursion: `say("go");
function down(n) {
  return down(n + 1) + 1;
}
while (true) {
  try {
    down(0);
  } catch (error) {
    // Stack overflow: unwind and dive again.
  }
}
`,
} as const;

/** A CPU-bound guest that only its deadline ends. */
export const CPU_BOUND_PROGRAM = `let x = 0;
while (true) {
  x = (x * 31 + 7) % 1000003;
}
`;
