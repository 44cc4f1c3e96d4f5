import { decodeCursor, LABELS, OUTCOMES } from "../store/mod.ts";

/** A bad request: the parameter and why. */
export class _BadParameter extends Error {
  readonly parameter: string;
  constructor(parameter: string, why: string, where = "query parameter") {
    super(`Bad ${where} "${parameter}": ${why}`);
    this.name = "BadParameter";
    this.parameter = parameter;
  }
}

// deno-lint-ignore no-control-regex -- NUL is forbidden in MQTT topics
const _ID = /^[^/+#\u0000]{1,128}$/;
const _LABELS = new Set<string>(LABELS);
const _OUTCOMES = new Set<string>(OUTCOMES);

/** Reads the query of `url`, allowing only `allowed`, each at most once. */
export function _readParams(
  url: URL,
  allowed: readonly string[],
): Map<string, string> {
  const params = new Map<string, string>();
  for (const [key, value] of url.searchParams) {
    if (!allowed.includes(key)) {
      throw new _BadParameter(
        key,
        `not a parameter of ${url.pathname} (allowed: ${allowed.join(", ")})`,
      );
    }
    if (params.has(key)) throw new _BadParameter(key, "given more than once");
    params.set(key, value);
  }
  return params;
}

/** A robot id or program id: 1-128 characters without `/`, `+`, `#`. */
export function _id(
  name: string,
  value: string | undefined,
): string | undefined {
  if (value === undefined) return undefined;
  if (!_ID.test(value)) {
    throw new _BadParameter(
      name,
      `must be 1-128 characters without "/", "+" or "#", got "${
        value.slice(0, 140)
      }"`,
    );
  }
  return value;
}

export function _label(value: string | undefined): string | undefined {
  if (value === undefined || _LABELS.has(value)) return value;
  throw new _BadParameter(
    "label",
    `must be one of ${LABELS.join(", ")}, got "${value.slice(0, 64)}"`,
  );
}

export function _outcome(value: string | undefined): string | undefined {
  if (value === undefined || _OUTCOMES.has(value)) return value;
  throw new _BadParameter(
    "outcome",
    `must be one of ${OUTCOMES.join(", ")}, got "${value.slice(0, 64)}"`,
  );
}

/** An ISO 8601 date or date-time, or a relative age like `24h`, `7d`: epoch ms. */
export function _since(
  value: string | undefined,
  now: number,
): number | undefined {
  if (value === undefined) return undefined;
  const relative = /^([0-9]{1,6})(m|h|d)$/.exec(value);
  if (relative !== null) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[
      relative[2] as "m" | "h" | "d"
    ];
    return now - Number(relative[1]) * unit;
  }
  const ms = /^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+(Z|[+-][0-9:]+)?)?$/
      .test(value)
    ? Date.parse(value)
    : NaN;
  if (!Number.isFinite(ms)) {
    throw new _BadParameter(
      "since",
      `must be an ISO 8601 date or date-time, or an age like 24h or 7d, got "${
        value.slice(0, 64)
      }"`,
    );
  }
  return ms;
}

export function _limit(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (
    !/^[0-9]{1,4}$/.test(value) || Number(value) < 1 || Number(value) > 1000
  ) {
    throw new _BadParameter(
      "limit",
      `must be an integer from 1 to 1000, got "${value.slice(0, 64)}"`,
    );
  }
  return Number(value);
}

export function _cursor(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    decodeCursor(value);
  } catch {
    throw new _BadParameter("cursor", "is not a cursor this console made");
  }
  return value;
}
