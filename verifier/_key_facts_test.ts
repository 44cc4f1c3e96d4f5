/**
 * Soundness of the computed-key rule, checked against JavaScript itself:
 * thousands of generated programs build keys from fragments of forbidden
 * names through consts, lets, loops, templates and conditionals; every key
 * the verifier accepts must, when the program really runs, never be a
 * forbidden name.
 */
import { ok } from "node:assert/strict";
import { verifyProgram } from "./verify_program.ts";
import { _FORBIDDEN_PROPERTIES } from "./_rules.ts";

const FRAGMENTS = [
  '"con"',
  '"structor"',
  '"constructor"',
  '"__proto__"',
  '"__"',
  '"proto"',
  '"_"',
  '"blue_"',
  '"_block"',
  '"c"',
  '"onstructor"',
  '"prototyp"',
  '"e"',
  "1",
  "0",
  "null",
  "true",
];

/** A small deterministic PRNG (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function program(next: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const names = ["a", "b", "c"];
  const expr = (depth: number): string => {
    const r = next();
    if (depth > 2 || r < 0.35) return pick([...FRAGMENTS, ...names]);
    if (r < 0.6) return `${expr(depth + 1)} + ${expr(depth + 1)}`;
    if (r < 0.75) {
      return `\`\${${expr(depth + 1)}}${pick(["", "_", "uctor", "__"])}\``;
    }
    if (r < 0.85) {
      return `(${expr(depth + 1)} ? ${expr(depth + 1)} : ${expr(depth + 1)})`;
    }
    return `${pick(names)}.length`;
  };
  const lines = [
    `const a = ${expr(1).replace(/\b[abc]\b(?!")/g, '"x"')};`,
    `let b = ${expr(1).replace(/\bb\b|\bc\b/g, "a")};`,
    `let c = "";`,
    `for (const part of [${expr(2)}, ${expr(2)}]) c += part;`,
    `b = ${expr(1)};`,
    `if (a.length > 3) c = ${expr(1)};`,
    `o[${expr(0)}];`,
  ];
  return lines.join("\n");
}

Deno.test("every computed key the verifier accepts is, when run, no forbidden name", () => {
  const next = random(20261201);
  const api = { skills: [] };
  let accepted = 0;
  let refused = 0;
  let forbidden = 0;
  for (let i = 0; i < 3000; i++) {
    const source = program(next);
    const report = verifyProgram(`const o = {};\n${source}`, { api });
    const keyIssues = report.issues.filter((x) =>
      x.code === "forbidden_property"
    );
    const seen: PropertyKey[] = [];
    const o = new Proxy({}, {
      get(_target, key) {
        seen.push(key);
        return undefined;
      },
    });
    try {
      new Function("o", source)(o);
    } catch {
      continue; // a TDZ or type error: the key was never used
    }
    const last = String(seen[seen.length - 1]);
    if (_FORBIDDEN_PROPERTIES.has(last)) forbidden++;
    if (keyIssues.length === 0 && report.ok) {
      accepted++;
      ok(
        !_FORBIDDEN_PROPERTIES.has(last),
        `accepted a program whose key is "${last}":\n${source}`,
      );
    } else refused++;
  }
  // The generator exercises both verdicts.
  ok(accepted > 100, `accepted ${accepted}`);
  ok(refused > 100, `refused ${refused}`);
  ok(forbidden > 50, `forbidden ${forbidden}`);
});

/** Programs that may tamper with skill data before using it as a key. */
function hostProgram(next: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const forged = () =>
    pick(['"constructor"', '"__proto__"', '"con" + "structor"', '"prototype"']);
  const tamper = [
    () => `objs.push({ id: ${forged()}, color: ${forged()} });`,
    () => `objs[0].id = ${forged()};`,
    () => `objs[0]["color"] = ${forged()};`,
    () => `Object.assign(objs[1], { id: ${forged()} });`,
    () =>
      `objs.forEach((o, i, all) => { all[i] = { id: ${forged()}, color: "x" }; });`,
    () => `objs.splice(0, 1, { id: ${forged()}, color: "x" });`,
    () => `const mine = { id: ${forged()} };\nobjs.unshift(mine);`,
    () => `objs.sort((a, b) => 0);`,
    () =>
      `const copy = [...objs];\ncopy.push({ id: ${forged()}, color: "y" });`,
    () => "",
  ];
  const use = [
    "for (const o of objs) m[o.id];",
    "m[objs[0].id];",
    "m[objs[1].color];",
    "for (const { id } of objs) m[id];",
    "objs.forEach((o) => { m[o.color]; });",
    "for (const id of objs.map((o) => o.id)) m[id];",
    "const copy2 = [...objs];\nfor (const o of copy2) m[o.id];",
    "m[detect()[0].id];",
  ];
  const lines = ["const m = {};", "const objs = detect();"];
  for (let i = 0; i < 1 + Math.floor(next() * 2); i++) {
    lines.push(pick(tamper)());
  }
  lines.push(pick(use));
  return lines.join("\n");
}

Deno.test("skill data the program tampered with is never accepted as a key", () => {
  const next = random(42);
  const api = {
    skills: [{ name: "detect", kind: "query" as const, params: [] }],
  };
  let accepted = 0;
  let forbidden = 0;
  for (let i = 0; i < 2000; i++) {
    const source = hostProgram(next);
    const report = verifyProgram(source, { api });
    const seen: PropertyKey[] = [];
    const m = new Proxy({}, {
      get(_target, key) {
        seen.push(key);
        return undefined;
      },
    });
    // The world names nothing forbidden: any forbidden key is the program's.
    const detect = () => [
      { id: "red_block", color: "red" },
      { id: "blue_bowl", color: "blue" },
    ];
    try {
      new Function("m", "detect", source.replace("const m = {};", ""))(
        m,
        detect,
      );
    } catch {
      continue;
    }
    if (seen.some((k) => _FORBIDDEN_PROPERTIES.has(String(k)))) forbidden++;
    if (!report.ok) continue;
    accepted++;
    for (const key of seen) {
      ok(
        !_FORBIDDEN_PROPERTIES.has(String(key)),
        `accepted a program whose key is "${String(key)}":\n${source}`,
      );
    }
  }
  ok(accepted > 100, `accepted ${accepted}`);
  ok(forbidden > 50, `forbidden ${forbidden}`);
});

/** Programs that fill an object, maybe let it escape, then use its keys. */
function keysProgram(next: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const bad = () =>
    pick([`'{"constructor": 1}'`, `'{"__proto__": 1}'`, `'{"prototype": 2}'`]);
  const fill = [
    () => `a["k_" + ${pick(['"x"', "1", '"y"'])}] = 1;`,
    () => `a.total = 2;`,
    () => `Object.assign(a, JSON.parse(${bad()}));`,
    () => `const b = a;\nObject.assign(b, JSON.parse(${bad()}));`,
    () =>
      `function add(o) { Object.assign(o, JSON.parse(${bad()})); }\nadd(a);`,
    () =>
      `ks.push(JSON.parse(${bad()}).constructor === 1 ? "constructor" : "x");`,
    () => `ks[0] = Object.keys(JSON.parse(${bad()}))[0];`,
    () => "",
  ];
  const use = [
    "for (const k of Object.keys(a)) m[k];",
    "for (const k in a) m[k];",
    "for (const k of ks) m[k];",
    "Object.keys(a).forEach((k) => { m[k]; });",
    "m[ks[0]];",
  ];
  const lines = [
    "const a = { x: 1 };",
    "const ks = Object.keys(a);",
  ];
  for (let i = 0; i < 1 + Math.floor(next() * 2); i++) lines.push(pick(fill)());
  lines.push(pick(use));
  return lines.join("\n");
}

Deno.test("keys of an object the program let escape or changed are never accepted as keys", () => {
  const next = random(7);
  const api = { skills: [] };
  let accepted = 0;
  let forbidden = 0;
  for (let i = 0; i < 2000; i++) {
    const source = keysProgram(next);
    const report = verifyProgram(`const m = {};\n${source}`, { api });
    const seen: PropertyKey[] = [];
    const m = new Proxy({}, {
      get(_target, key) {
        seen.push(key);
        return undefined;
      },
    });
    try {
      new Function("m", source)(m);
    } catch {
      continue;
    }
    if (seen.some((k) => _FORBIDDEN_PROPERTIES.has(String(k)))) forbidden++;
    if (!report.ok) continue;
    accepted++;
    for (const key of seen) {
      ok(
        !_FORBIDDEN_PROPERTIES.has(String(key)),
        `accepted a program whose key is "${String(key)}":\n${source}`,
      );
    }
  }
  ok(accepted > 100, `accepted ${accepted}`);
  // The programs do reach forbidden keys when they run: the test has teeth.
  ok(forbidden > 50, `forbidden ${forbidden}`);
});

Deno.test("keys built from another object's keys are worked out once per object, not once per use", () => {
  const api = { skills: [] };
  // Each object's keys come from the one before it, twice: worked out anew
  // at each use, the work doubles with every object (2^18 here).
  let chained = "const o0 = {a: 1};\n";
  for (let i = 1; i <= 18; i++) {
    chained += `const o${i} = {[Object.keys(o${i - 1})[0]]: 0, [Object.keys(o${
      i - 1
    })[1]]: 1};\n`;
  }
  chained += "const last = o18[Object.keys(o18)[0]];\n";
  const report = verifyProgram(chained, { api, maxSteps: 5_000 });
  ok(report.ok, JSON.stringify(report.issues));
  // And a forbidden key at the end of such a chain is still found.
  const forbidden = chained.replace(
    "const o0 = {a: 1};",
    'const o0 = {["constructor"]: 1};',
  );
  const refused = verifyProgram(forbidden, { api, maxSteps: 5_000 });
  ok(
    !refused.ok && refused.issues.some((i) => i.code !== "too_complex"),
    JSON.stringify(refused.issues),
  );
});
