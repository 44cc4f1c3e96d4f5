import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./_usage_error.ts";
import { _suggest } from "./_suggest.ts";

/** How a command's flags are declared. */
export interface FlagSpec {
  /** Flags that take one value. */
  string?: string[];
  /** Flags without a value. */
  boolean?: string[];
  /** Flags that take a value and may repeat. */
  collect?: string[];
  /** Flag names (among `string`) that take a positive integer. */
  integers?: string[];
}

/** Parsed flags and positionals. */
export interface ParsedArgs {
  _: string[];
  [flag: string]: string | string[] | boolean | undefined | string[];
}

type _Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * The one argument parser of every `cap` command: `node:util.parseArgs`,
 * strict, plus what it lacks. An unknown flag is a {@linkcode UsageError}
 * with the closest known flag ("did you mean --world?"); a flag that takes
 * one value given twice is an error, not "the last one wins"; a missing
 * value names the flag. Same config and result as `parseArgs`.
 */
export function _parseArgsStrict<T extends ParseArgsConfig>(
  config: T,
): ReturnType<typeof parseArgs<T>> {
  const options: _Options = config.options ?? {};
  // First pass, lenient: see every token to find unknown and repeated flags.
  const { tokens } = parseArgs({
    args: config.args ?? [],
    options,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    const option = options[token.name];
    if (option === undefined) {
      const known = Object.keys(options).map((n) => `--${n}`);
      const guess = _suggest(token.rawName, known);
      throw new UsageError(
        `unknown option ${token.rawName}${
          guess === null ? "" : `; did you mean ${guess}?`
        }`,
      );
    }
    if (option.multiple !== true) {
      if (seen.has(token.name)) {
        throw new UsageError(
          `--${token.name} was given twice; it takes one ${
            option.type === "string" ? "value" : "flag"
          }`,
        );
      }
      seen.add(token.name);
    }
  }
  try {
    return parseArgs(config);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(
      message
        .replace(/\. To specify a positional argument.*$/s, "")
        .replace(
          /^Option '(?:-\w, )?(--[\w-]+) <value>' argument missing$/,
          "$1 needs a value",
        )
        .replace(
          /^Unexpected argument '([^']*)'.*$/s,
          'unexpected argument "$1"',
        ),
    );
  }
}

/**
 * Parses `args` strictly (see {@linkcode _parseArgsStrict}): unknown flags,
 * repeated single-value flags, missing values and malformed numbers are a
 * {@linkcode UsageError} naming the flag.
 */
export function _parseFlags(args: string[], spec: FlagSpec): ParsedArgs {
  const options: _Options = {
    help: { type: "boolean", short: "h" },
  };
  for (const name of spec.string ?? []) options[name] = { type: "string" };
  for (const name of spec.boolean ?? []) options[name] = { type: "boolean" };
  for (const name of spec.collect ?? []) {
    options[name] = { type: "string", multiple: true };
  }
  const parsed = _parseArgsStrict({
    args,
    options,
    allowPositionals: true,
    strict: true,
  });
  for (const name of spec.integers ?? []) {
    const value = parsed.values[name];
    if (value === undefined) continue;
    const text = String(value);
    if (!/^[1-9][0-9]*$/.test(text) || !Number.isSafeInteger(Number(text))) {
      throw new UsageError(`--${name} takes a positive integer, got "${text}"`);
    }
  }
  return {
    ...(parsed.values as Record<string, string | boolean | string[]>),
    _: parsed.positionals,
  };
}

/** A command's flags and how many arguments it takes. */
export interface CommandSpec extends FlagSpec {
  /** What the one argument is ("program id"); without it the command takes none. */
  argument?: string;
}

/**
 * The start of every command: parses `args` with {@linkcode _parseFlags},
 * prints `help` for `--help` (resolving to `null`: exit 0), and checks the
 * argument count (bad usage names what was expected).
 */
export function _parseCommand(
  args: string[],
  spec: CommandSpec,
  help: string,
): ParsedArgs | null {
  const flags = _parseFlags(args, spec);
  if (flags.help) {
    console.log(help);
    return null;
  }
  if (spec.argument === undefined && flags._.length > 0) {
    throw new UsageError(`unexpected argument "${flags._[0]}"`);
  }
  if (spec.argument !== undefined && flags._.length !== 1) {
    throw new UsageError(
      `expects one ${spec.argument}, got ${flags._.length}\n\n${help}`,
    );
  }
  return flags;
}
