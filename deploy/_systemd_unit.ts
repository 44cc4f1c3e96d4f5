/**
 * Test helper: reads a systemd unit file (sections, repeated keys, `\`
 * continuation lines, comments) and splits its command lines into argv the
 * way systemd does for the plain forms the units here use.
 * @module
 */

/** A parsed unit: section name → key → every value assigned, in order. */
export type _SystemdUnit = Map<string, Map<string, string[]>>;

/** Parses the text of a unit file; throws a `SyntaxError` naming the line. */
export function _parseSystemdUnit(
  text: string,
  options: { source?: string } = {},
): _SystemdUnit {
  const source = options.source ?? "unit";
  const unit: _SystemdUnit = new Map();
  let section: Map<string, string[]> | null = null;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i]!.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    // A trailing backslash joins the next line (comment lines in between are skipped).
    while (line.endsWith("\\")) {
      line = line.slice(0, -1);
      let next = lines[++i];
      while (next !== undefined && /^\s*[#;]/.test(next)) next = lines[++i];
      if (next === undefined) {
        throw new SyntaxError(
          `Cannot parse ${source}: line ${lineNo} ends in "\\" but nothing follows`,
        );
      }
      line = `${line} ${next.trim()}`;
    }
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = unit.get(header[1]!) ?? new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf("=");
    if (section === null || eq <= 0) {
      throw new SyntaxError(
        `Cannot parse ${source}: line ${lineNo} is neither a [section] nor key=value inside one: "${line}"`,
      );
    }
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const values = section.get(key) ?? [];
    values.push(value.replace(/\s+/g, " "));
    section.set(key, values);
  }
  return unit;
}

/** The values of `key` in `section` (empty when unset). */
export function _unitValues(
  unit: _SystemdUnit,
  section: string,
  key: string,
): string[] {
  return unit.get(section)?.get(key) ?? [];
}

/**
 * Splits a command line into argv: whitespace separates words, `"…"` and
 * `'…'` quote. Refuses what systemd would treat specially and these units do
 * not use: `%` specifiers, `$` variables, and the `-@:+!` executable prefixes.
 */
export function _splitCommandLine(line: string): string[] {
  if (/^[-@:+!]/.test(line)) {
    throw new SyntaxError(
      `Cannot split command line: the executable prefix "${
        line[0]
      }" is not supported: ${line}`,
    );
  }
  if (/[%$]/.test(line)) {
    throw new SyntaxError(
      `Cannot split command line: "%" specifiers and "$" variables are not supported: ${line}`,
    );
  }
  const argv: string[] = [];
  const word = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (const match of line.matchAll(word)) {
    argv.push(match[1] ?? match[2] ?? match[3]!);
  }
  return argv;
}

/** The `Environment=` assignments of `[Service]` as name → value. */
export function _unitEnvironment(unit: _SystemdUnit): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of _unitValues(unit, "Service", "Environment")) {
    for (const assignment of _splitCommandLine(line)) {
      const eq = assignment.indexOf("=");
      if (eq <= 0) {
        throw new SyntaxError(
          `Cannot read Environment=: "${assignment}" is not NAME=value`,
        );
      }
      env[assignment.slice(0, eq)] = assignment.slice(eq + 1);
    }
  }
  return env;
}
