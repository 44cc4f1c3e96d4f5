// The fleet console's page: no framework, no innerHTML with data (records
// come from robots), live robots over server-sent events.
const SVG = "http://www.w3.org/2000/svg";
const LABELS = [
  "envelope_rejected",
  "verification_rejected",
  "invalid_argument",
  "precondition_violated",
  "skill_failed",
  "timeout",
  "memory_exceeded",
  "stack_overflow",
  "budget_exceeded",
  "estop",
  "program_error",
  "postcondition_failed",
  "interrupted",
];
const LABEL_COLORS = [
  "#8e24aa",
  "#5e35b1",
  "#e53935",
  "#fb8c00",
  "#c62828",
  "#6d4c41",
  "#00897b",
  "#3949ab",
  "#f4511e",
  "#fdd835",
  "#d81b60",
  "#1e88e5",
  "#757575",
];
const state = {
  robots: [],
  runs: [],
  filters: {},
  cursor: null,
  // What the console can do beyond stopping (GET /api/console).
  console: { operatorKey: false, repair: false },
};

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function api(path, init) {
  const res = await fetch(path, init);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
  return { body, res };
}

function ago(iso) {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

function badge(kind, value) {
  return h("span", { class: `badge ${kind}-${value ?? "none"}` }, value ?? "?");
}

function labelColor(label) {
  const i = LABELS.indexOf(label);
  return i < 0 ? "#999" : LABEL_COLORS[i];
}

async function stop(robotId, button) {
  const path = robotId === null
    ? "/api/stop"
    : `/api/robots/${encodeURIComponent(robotId)}/stop`;
  if (button) {
    button.dataset.text ??= button.textContent;
    button.disabled = true;
  }
  try {
    await api(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ reason: "stop from the fleet console" }),
    });
    if (button) button.textContent = "Stop sent";
  } catch (error) {
    alert(`Cannot stop: ${error.message}`);
  } finally {
    if (button) {
      const text = button.dataset.text ?? (button.dataset.text = "Stop");
      setTimeout(() => {
        button.disabled = false;
        button.textContent = text;
      }, 1500);
    }
  }
}

// ---- overview ------------------------------------------------------------

function robotsTable() {
  if (state.robots.length === 0) {
    return h("p", { class: "muted" }, "No robots heard from yet.");
  }
  return h(
    "table",
    { id: "robots" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        [
          "Robot",
          "Status",
          "Last seen",
          "Current run",
          "Outbox",
          "Last run",
          "Runs",
          "",
        ].map((t) => h("th", {}, t)),
      ),
    ),
    h(
      "tbody",
      {},
      state.robots.map((r) =>
        h(
          "tr",
          { "data-robot": r.robotId },
          h(
            "td",
            {},
            h(
              "a",
              { href: `#/?robot=${encodeURIComponent(r.robotId)}` },
              r.robotId,
            ),
          ),
          h("td", {}, badge("st", r.status)),
          h("td", { title: r.lastSeen ?? "" }, ago(r.lastSeen)),
          h("td", {}, r.currentRunId ?? "–"),
          h(
            "td",
            {},
            r.outboxDepth === null
              ? "?"
              : `${r.outboxDepth}${
                r.outboxDepth > 0 && r.outboxOldestAgeMs
                  ? ` (oldest ${Math.round(r.outboxOldestAgeMs / 1000)}s)`
                  : ""
              }`,
          ),
          h(
            "td",
            {},
            r.lastRunId === null ? "–" : h(
              "a",
              { href: `#/runs/${encodeURIComponent(r.lastRunId)}` },
              badge("o", r.lastOutcome),
              " ",
              r.lastLabel ?? "",
            ),
          ),
          h("td", {}, r.runs),
          h(
            "td",
            { class: "actions" },
            h("button", {
              class: "stop",
              type: "button",
              "data-stop": r.robotId,
              onclick: (e) => stop(r.robotId, e.target),
            }, "Stop"),
            state.console.operatorKey
              ? [
                h("button", {
                  type: "button",
                  "data-resume": r.robotId,
                  onclick: (e) => resume(r.robotId, e.target),
                }, "Resume"),
                h("button", {
                  type: "button",
                  "data-run": r.robotId,
                  onclick: () => openRunPicker(r.robotId),
                }, "Run…"),
              ]
              : null,
          ),
        )
      ),
    ),
  );
}

// Run and resume (the console signs the operator command). The picker sits
// outside the robots table, which live updates redraw.

function say(text, isError = false) {
  const box = document.getElementById("robot-actions");
  if (!box) return;
  box.replaceChildren(
    h("p", { class: isError ? "failure" : "note", id: "action-result" }, text),
  );
}

async function resume(robotId, button) {
  button.disabled = true;
  try {
    const { body } = await api(
      `/api/robots/${encodeURIComponent(robotId)}/resume`,
      { method: "POST" },
    );
    say(
      body.wasStopped
        ? `${robotId} resumed: it takes runs again.`
        : `${robotId} was not stopped.`,
    );
  } catch (error) {
    say(error.message, true);
  } finally {
    button.disabled = false;
  }
}

async function openRunPicker(robotId) {
  const box = document.getElementById("robot-actions");
  box.replaceChildren(h("p", { class: "muted" }, `Programs on ${robotId}…`));
  let programs;
  try {
    ({ body: programs } = await api(
      `/api/robots/${encodeURIComponent(robotId)}/programs`,
    ));
  } catch (error) {
    return say(error.message, true);
  }
  if (programs.length === 0) {
    return say(`${robotId} holds no program to run.`);
  }
  const select = h(
    "select",
    { id: "run-program" },
    programs.map((p) =>
      h(
        "option",
        { value: p.programId },
        `${p.programId} v${p.version}${
          p.instruction ? ` — ${p.instruction}` : ""
        }`,
      )
    ),
  );
  const start = h("button", {
    type: "button",
    id: "run-start",
    onclick: async () => {
      start.disabled = true;
      try {
        const { body } = await api(
          `/api/robots/${encodeURIComponent(robotId)}/run`,
          {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ programId: select.value }),
          },
        );
        box.replaceChildren(
          h(
            "p",
            { class: "note", id: "action-result" },
            `${robotId} runs ${body.programId}: `,
            h(
              "a",
              { href: `#/runs/${encodeURIComponent(body.runId)}` },
              body.runId,
            ),
            " (its record arrives when it ends)",
          ),
        );
      } catch (error) {
        say(error.message, true);
      }
    },
  }, "Start");
  box.replaceChildren(
    h(
      "p",
      {},
      `Run on ${robotId}: `,
      select,
      " ",
      start,
      " ",
      h(
        "button",
        { type: "button", onclick: () => box.replaceChildren() },
        "Cancel",
      ),
    ),
  );
}

function runRow(r) {
  return h(
    "tr",
    {
      class: "clickable",
      "data-run": r.runId,
      onclick: () => location.hash = `#/runs/${encodeURIComponent(r.runId)}`,
    },
    h("td", { title: r.startedAt }, new Date(r.startedAt).toLocaleString()),
    h("td", {}, r.robotId),
    h(
      "td",
      {},
      r.programId === null
        ? h("span", { class: "muted" }, "unsigned")
        : `${r.programId} v${r.version ?? "?"}`,
    ),
    h("td", {}, badge("o", r.outcome)),
    h("td", {}, r.label ?? ""),
    h("td", {}, r.line ?? ""),
    h("td", { class: "muted" }, r.runId),
  );
}

function filtersForm() {
  const f = state.filters;
  const field = (name, placeholder) =>
    h("input", { name, placeholder, value: f[name] ?? "", size: 14 });
  const select = (name, options) =>
    h(
      "select",
      { name },
      h("option", { value: "" }, `any ${name}`),
      options.map((o) => h("option", { value: o, selected: f[name] === o }, o)),
    );
  return h(
    "form",
    {
      class: "filters",
      onsubmit: (e) => {
        e.preventDefault();
        const data = new FormData(e.target);
        const q = new URLSearchParams();
        for (const [k, v] of data) if (v !== "") q.set(k, v);
        location.hash = `#/?${q}`;
      },
    },
    field("robot", "robot"),
    field("program", "program"),
    select("outcome", ["succeeded", "failed", "rejected", "stopped"]),
    select("label", LABELS),
    field("since", "since (7d, 2026-11-01)"),
    h("button", { type: "submit" }, "Filter"),
    h(
      "button",
      { type: "button", onclick: () => location.hash = "#/" },
      "Clear",
    ),
  );
}

function runsTable() {
  return h(
    "table",
    { id: "runs" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Started", "Robot", "Program", "Outcome", "Label", "Line", "Run"].map((
          t,
        ) => h("th", {}, t)),
      ),
    ),
    h("tbody", {}, state.runs.map(runRow)),
  );
}

function labelsChart(stats) {
  // One slot per day for the last 30 days (UTC), days without runs empty.
  const byDay = new Map(stats.perDay.map((d) => [d.day, d]));
  const today = Date.parse(new Date().toISOString().slice(0, 10));
  const days = Array.from({ length: 30 }, (_, i) => {
    const day = new Date(today - (29 - i) * 86400000).toISOString().slice(
      0,
      10,
    );
    return byDay.get(day) ?? { day, runs: 0, byLabel: {} };
  });
  const width = 720, height = 140, pad = 28;
  const max = Math.max(
    1,
    ...days.map((d) => Object.values(d.byLabel).reduce((a, b) => a + b, 0)),
  );
  const bw = (width - pad) / days.length;
  const svg = s(
    "svg",
    {
      viewBox: `0 0 ${width + 24} ${height + 20}`,
      width: "100%",
      role: "img",
      "aria-label": "failure labels per day",
      id: "labels-chart",
      class: "chart",
    },
    s("line", {
      class: "axis",
      x1: pad,
      y1: height,
      x2: width,
      y2: height,
      stroke: "#ddd",
    }),
    s("text", { x: 0, y: 12 }, String(max)),
    s("text", { x: 0, y: height }, "0"),
  );
  days.forEach((d, i) => {
    let y = height;
    const x = pad + i * bw + 2;
    for (const label of LABELS) {
      const n = d.byLabel[label] ?? 0;
      if (n === 0) continue;
      const bh = (n / max) * (height - 10);
      y -= bh;
      svg.append(
        s("rect", {
          x,
          y,
          width: Math.max(1, bw - 4),
          height: bh,
          fill: labelColor(label),
        }, s("title", {}, `${d.day}: ${label} × ${n}`)),
      );
    }
    if (i % 5 === 4) {
      svg.append(s("text", { x, y: height + 14 }, d.day.slice(5)));
    }
  });
  const used = LABELS.filter((l) => stats.byLabel[l]);
  return h(
    "div",
    {},
    svg,
    h(
      "div",
      { class: "legend" },
      used.length === 0
        ? h("span", { class: "muted" }, "No failures in the last 30 days.")
        : used.map((l) =>
          h("span", {}, swatch(labelColor(l)), `${l} (${stats.byLabel[l]})`)
        ),
    ),
  );
}

function swatch(color) {
  const el = s(
    "svg",
    { width: 10, height: 10, class: "swatch" },
    s("rect", { width: 10, height: 10, rx: 2, fill: color }),
  );
  return el;
}

async function showOverview(params) {
  state.filters = Object.fromEntries(params);
  const q = new URLSearchParams(params);
  q.set("limit", "100");
  const [{ body: robots }, { body: runs, res }, { body: stats }] = await Promise
    .all([
      api("/api/robots"),
      api(`/api/runs?${q}`),
      api(
        `/api/stats?since=30d${
          state.filters.robot
            ? `&robot=${encodeURIComponent(state.filters.robot)}`
            : ""
        }`,
      ),
    ]);
  state.robots = robots;
  state.runs = runs;
  state.cursor = res.headers.get("x-next-cursor");
  const more = h("button", {
    type: "button",
    id: "more",
    onclick: async (e) => {
      const q2 = new URLSearchParams(q);
      q2.set("cursor", state.cursor);
      const { body, res: r2 } = await api(`/api/runs?${q2}`);
      state.runs.push(...body);
      state.cursor = r2.headers.get("x-next-cursor");
      document.querySelector("#runs tbody").append(...body.map(runRow));
      if (state.cursor === null) e.target.remove();
    },
  }, "Older runs");
  render(
    h(
      "section",
      {},
      h("h2", {}, "Robots"),
      h("div", { id: "robots-box" }, robotsTable()),
      h("div", { id: "robot-actions" }),
    ),
    h(
      "section",
      {},
      h("h2", {}, "Failure labels per day (30 days)"),
      labelsChart(stats),
    ),
    h(
      "section",
      {},
      h("h2", {}, "Runs"),
      filtersForm(),
      runsTable(),
      state.cursor ? more : null,
    ),
  );
}

// ---- one run ---------------------------------------------------------------

function sourceView(source, line) {
  return h(
    "pre",
    { class: "source", id: "source" },
    source.split("\n").map((text, i) =>
      h("span", {
        class: i + 1 === line ? "line fail" : "line",
        "data-line": i + 1,
      }, text || " ")
    ),
  );
}

function timeline(calls, wallMs) {
  if (calls.length === 0) return h("p", { class: "muted" }, "No skill calls.");
  const width = 720, row = 18, left = 170, right = 130;
  const end = Math.max(
    wallMs,
    ...calls.map((c) => c.startMs + c.durationMs),
    1,
  );
  const scale = (width - left - right) / end;
  const svg = s("svg", {
    viewBox: `0 0 ${width} ${calls.length * row + 24}`,
    width: "100%",
    id: "timeline",
  });
  calls.forEach((c, i) => {
    const y = i * row + 4;
    const args = JSON.stringify(c.args).slice(1, -1);
    svg.append(
      s(
        "text",
        { x: 0, y: y + 12 },
        `${c.seq}. ${c.skill}(${
          args.length > 18 ? args.slice(0, 17) + "…" : args
        })`,
      ),
      s(
        "rect",
        {
          x: left + c.startMs * scale,
          y,
          width: Math.max(2, c.durationMs * scale),
          height: row - 6,
          rx: 2,
          fill: c.ok ? "#43a047" : "#c62828",
          class: c.ok ? "call ok" : "call failed",
        },
        s(
          "title",
          {},
          `${c.skill} at ${c.startMs} ms for ${c.durationMs} ms${
            c.ok ? "" : `: ${c.error?.code}: ${c.error?.message}`
          }`,
        ),
      ),
    );
    if (!c.ok) {
      svg.append(
        s("text", {
          x: left + (c.startMs + c.durationMs) * scale + 4,
          y: y + 12,
          fill: "#c62828",
        }, c.error?.code ?? "error"),
      );
    }
  });
  const y = calls.length * row + 18;
  svg.append(
    s("text", { x: left, y }, "0 ms"),
    s("text", { x: width - right - 30, y }, `${Math.round(end)} ms`),
  );
  return svg;
}

function worldView(world, title) {
  if (world === null || world === undefined) {
    return h(
      "div",
      {},
      h("h3", {}, title),
      h("p", { class: "muted" }, "Not recorded."),
    );
  }
  const objs = world.objects ?? [];
  const ws = world.workspace ??
    { xMin: -0.3, xMax: 0.3, yMin: -0.8, yMax: -0.2 };
  const xs = [ws.xMin, ws.xMax, ...objs.map((o) => o.x)];
  const ys = [ws.yMin, ws.yMax, ...objs.map((o) => o.y)];
  const x0 = Math.min(...xs) - 0.05, x1 = Math.max(...xs) + 0.05;
  const y0 = Math.min(...ys) - 0.05, y1 = Math.max(...ys) + 0.05;
  const W = 320, H = Math.round(W * (y1 - y0) / (x1 - x0));
  const px = (x) => ((x - x0) / (x1 - x0)) * W;
  const py = (y) => H - ((y - y0) / (y1 - y0)) * H; // +y away from the viewer
  const svg = s(
    "svg",
    {
      viewBox: `0 0 ${W} ${H + 22}`,
      width: "100%",
      class: "world",
      "data-title": title,
    },
    s("rect", {
      x: px(ws.xMin),
      y: py(ws.yMax),
      width: px(ws.xMax) - px(ws.xMin),
      height: py(ws.yMin) - py(ws.yMax),
      fill: "#f3efe6",
      stroke: "#c9bfa8",
    }),
  );
  const byId = new Map(objs.map((o) => [o.id, o]));
  const depth = (o) => {
    let d = 0;
    let cur = o;
    while (cur?.on && d < 20) {
      cur = byId.get(cur.on);
      d++;
    }
    return d;
  };
  for (const o of [...objs].sort((a, b) => depth(a) - depth(b))) {
    if (o.id === world.holding) continue;
    const d = depth(o);
    const cx = px(o.x) + d * 4, cy = py(o.y) - d * 4;
    const color = CSS.supports("color", o.color) ? o.color : "#999";
    const shape = o.kind === "bowl"
      ? s("circle", {
        cx,
        cy,
        r: 16,
        fill: "none",
        stroke: color,
        "stroke-width": 5,
        class: "bowl",
        "data-id": o.id,
      })
      : s("rect", {
        x: cx - 9,
        y: cy - 9,
        width: 18,
        height: 18,
        rx: 2,
        fill: color,
        stroke: "#0005",
        class: "block",
        "data-id": o.id,
      });
    shape.append(
      s(
        "title",
        {},
        `${o.id} at (${o.x.toFixed(2)}, ${o.y.toFixed(2)})${
          o.on ? ` on ${o.on}` : ""
        }`,
      ),
    );
    svg.append(shape, s("text", { x: cx + 12, y: cy + 4 }, o.id));
  }
  const held = world.holding ? byId.get(world.holding) : null;
  svg.append(
    s(
      "text",
      { x: 4, y: H + 16, class: "holding" },
      `gripper: ${world.holding ?? "empty"}`,
    ),
  );
  if (held) {
    svg.append(
      s("rect", {
        x: 110,
        y: H + 5,
        width: 14,
        height: 14,
        rx: 2,
        fill: CSS.supports("color", held.color) ? held.color : "#999",
      }),
    );
  }
  return h("div", {}, h("h3", {}, title), svg);
}

async function showRun(runId) {
  const { body: r } = await api(`/api/runs/${encodeURIComponent(runId)}`);
  const f = r.failure;
  const consoleUrl = location.origin;
  render(
    h(
      "section",
      { id: "run" },
      h("h2", {}, `Run ${r.runId}`),
      h(
        "p",
        {},
        badge("o", r.outcome),
        " on ",
        h(
          "a",
          { href: `#/?robot=${encodeURIComponent(r.robotId)}` },
          r.robotId,
        ),
        ` · ${
          r.program.programId
            ? `${r.program.programId} v${r.program.version}`
            : "unsigned program"
        }`,
        ` · ${
          new Date(r.startedAt).toLocaleString()
        } · ${r.resources.wallMs} ms · ${r.resources.skillCalls} call(s)`,
        " ",
        h("button", {
          class: "stop",
          type: "button",
          onclick: (e) => stop(r.robotId, e.target),
        }, "Stop"),
      ),
      f
        ? h(
          "p",
          { class: "failure", id: "failure" },
          h("span", { id: "failure-label" }, f.label),
          f.line ? ` at line ${f.line}` : "",
          `: ${f.message}`,
        )
        : null,
      r.program.instruction
        ? h("p", {}, "Instruction: ", h("em", {}, r.program.instruction))
        : null,
      r.truncated
        ? h(
          "p",
          { class: "muted" },
          `Truncated: ${JSON.stringify(r.truncated)}`,
        )
        : null,
    ),
    h(
      "section",
      {},
      h("h2", {}, "Program"),
      sourceView(r.program.source, f?.line),
    ),
    r.verifier.issues.length > 0
      ? h(
        "section",
        { id: "issues" },
        h("h2", {}, "Verifier issues"),
        h(
          "table",
          {},
          h(
            "tbody",
            {},
            r.verifier.issues.map((i) =>
              h(
                "tr",
                {},
                h("td", {}, `${i.line}:${i.column}`),
                h("td", {}, i.code),
                h("td", { class: "wrap" }, i.message),
              )
            ),
          ),
        ),
      )
      : null,
    h(
      "section",
      {},
      h("h2", {}, "Skill calls"),
      timeline(r.calls, r.resources.wallMs),
    ),
    r.checks.length > 0
      ? h(
        "section",
        { id: "checks" },
        h("h2", {}, "Checks"),
        h(
          "table",
          {},
          h(
            "tbody",
            {},
            r.checks.map((c) =>
              h(
                "tr",
                {},
                h("td", {}, badge("o", c.ok ? "succeeded" : "failed")),
                h("td", {}, h("code", {}, c.expr)),
                h("td", { class: "wrap" }, c.message ?? ""),
              )
            ),
          ),
        ),
      )
      : null,
    h(
      "section",
      {},
      h("h2", {}, "World"),
      h(
        "div",
        { class: "grid" },
        worldView(r.worldBefore, "Before"),
        worldView(r.worldAfter, "After"),
      ),
    ),
    r.outcome !== "succeeded"
      ? h(
        "section",
        { id: "repair-section" },
        h("h2", {}, "Repair or reproduce"),
        state.console.repair
          ? h(
            "p",
            {},
            h("button", {
              type: "button",
              id: "repair",
              onclick: (e) => repair(r, e.target),
            }, "Repair"),
            " feeds this failure into the repair loop, dry-runs the repair in the recorded world, signs a new version and delivers it to ",
            r.robotId,
            ".",
          )
          : [
            h(
              "p",
              {},
              "Feed this failure into the repair loop (signs a new version and delivers it):",
            ),
            h(
              "code",
              { class: "cmd" },
              `deno task cap synth --from-run ${r.runId} --console ${consoleUrl} --key <private.jwk.json> --to <robot host:port>`,
            ),
          ],
        h("div", { id: "repair-status" }),
        h("p", {}, "Replay it on a desk against the recorded skill results:"),
        h(
          "code",
          { class: "cmd" },
          `deno task cap replay ${r.runId} --console ${consoleUrl}`,
        ),
      )
      : null,
  );
}

// A repair runs as a job on the console; the page polls it.
async function repair(r, button) {
  const box = document.getElementById("repair-status");
  button.disabled = true;
  let job;
  try {
    ({ body: job } = await api(
      `/api/runs/${encodeURIComponent(r.runId)}/repair`,
      { method: "POST" },
    ));
  } catch (error) {
    button.disabled = false;
    box.replaceChildren(h("p", { class: "failure" }, error.message));
    return;
  }
  while (job.state === "running") {
    box.replaceChildren(
      h("p", { class: "muted", "data-state": "running" }, "Repairing…"),
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (!document.body.contains(box)) return; // the page moved on
    try {
      ({ body: job } = await api(`/api/repairs/${encodeURIComponent(job.id)}`));
    } catch (error) {
      box.replaceChildren(h("p", { class: "failure" }, error.message));
      return;
    }
  }
  button.disabled = false;
  const attempts = `${job.attempts ?? 0} attempt(s)`;
  box.replaceChildren(
    job.state === "succeeded"
      ? h(
        "div",
        { "data-state": "succeeded" },
        h(
          "p",
          { class: "note" },
          `Repaired: ${job.programId} v${job.version} delivered to ${job.robotId} (${attempts}). ${
            job.delivery ?? ""
          }`,
        ),
        h("pre", { id: "repaired-source" }, job.source ?? ""),
      )
      : h(
        "p",
        { class: "failure", "data-state": "failed" },
        `Repair failed (${attempts}): ${job.error ?? "unknown error"}`,
      ),
  );
}

// ---- routing and live updates ---------------------------------------------

function render(...nodes) {
  document.getElementById("main").replaceChildren(...nodes.filter(Boolean));
}

async function route() {
  const hash = location.hash || "#/";
  try {
    const run = /^#\/runs\/(.+)$/.exec(hash);
    if (run) await showRun(decodeURIComponent(run[1]));
    else await showOverview(new URLSearchParams(hash.split("?")[1] ?? ""));
  } catch (error) {
    render(h("section", {}, h("p", { class: "failure" }, error.message)));
  }
}

function live() {
  const indicator = document.getElementById("live");
  const events = new EventSource("/api/events");
  events.addEventListener("open", () => {
    indicator.textContent = "live";
    indicator.classList.add("on");
  });
  events.addEventListener("error", () => {
    indicator.textContent = "reconnecting…";
    indicator.classList.remove("on");
  });
  events.addEventListener("robots", (e) => {
    state.robots = JSON.parse(e.data);
    const box = document.getElementById("robots-box");
    if (box) box.replaceChildren(robotsTable());
  });
  events.addEventListener("run", (e) => {
    const run = JSON.parse(e.data);
    const body = document.querySelector("#runs tbody");
    const f = state.filters;
    const matches = (!f.robot || f.robot === run.robotId) &&
      (!f.label || f.label === run.label) &&
      (!f.program || f.program === run.programId) &&
      (!f.outcome || f.outcome === run.outcome) && !f.since;
    if (body && matches) body.prepend(runRow(run));
  });
}

document.getElementById("stop-fleet").addEventListener("click", (e) => {
  if (confirm("Send an emergency stop to every robot?")) stop(null, e.target);
});
addEventListener("hashchange", route);
api("/api/console").then(({ body }) => {
  state.console = body;
}).catch(() => {}).finally(() => {
  live();
  route();
});
