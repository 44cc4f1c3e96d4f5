const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const HEX4 = /[0-9a-fA-F]{4}/y;

class _Stop {
  constructor(readonly offset: number) {}
}

/**
 * Where `text` stops being valid JSON: 0-based offset, 1-based line and
 * column; `undefined` when it is valid (or too deeply nested to scan).
 * Used to point at the error when V8's message carries no position.
 */
export function _jsonErrorPosition(
  text: string,
): { offset: number; line: number; column: number } | undefined {
  let i = 0;
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text[i] ?? "")) i++;
  };
  const string = () => {
    i++;
    while (i < text.length) {
      const ch = text[i] ?? "";
      if (ch === '"') {
        i++;
        return;
      }
      if (ch === "\\") {
        const next = text[i + 1] ?? "";
        if (next === "u") {
          HEX4.lastIndex = i + 2;
          if (!HEX4.test(text)) throw new _Stop(i);
          i += 6;
        } else if ('"\\/bfnrt'.includes(next) && next !== "") i += 2;
        else throw new _Stop(i + 1);
        continue;
      }
      if (ch.charCodeAt(0) < 0x20) throw new _Stop(i);
      i++;
    }
    throw new _Stop(i);
  };
  const value = (): void => {
    space();
    const ch = text[i];
    if (ch === "{" || ch === "[") {
      const close = ch === "{" ? "}" : "]";
      i++;
      space();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (close === "}") {
          space();
          if (text[i] !== '"') throw new _Stop(i);
          string();
          space();
          if (text[i] !== ":") throw new _Stop(i);
          i++;
        }
        value();
        space();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === close) {
          i++;
          return;
        }
        throw new _Stop(i);
      }
    }
    if (ch === '"') return string();
    for (const literal of ["true", "false", "null"]) {
      if (text.startsWith(literal, i)) {
        i += literal.length;
        return;
      }
    }
    NUMBER.lastIndex = i;
    const match = NUMBER.exec(text);
    if (match === null) throw new _Stop(i);
    i += match[0].length;
  };
  let offset: number;
  try {
    value();
    space();
    if (i >= text.length) return undefined;
    offset = i;
  } catch (error) {
    if (!(error instanceof _Stop)) return undefined;
    offset = error.offset;
  }
  const before = text.slice(0, offset).split("\n");
  return {
    offset,
    line: before.length,
    column: (before[before.length - 1] ?? "").length + 1,
  };
}
