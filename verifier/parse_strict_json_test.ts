import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { parseStrictJson, STRICT_JSON_MAX_DEPTH } from "./parse_strict_json.ts";

function reason(text: string): string {
  const result = parseStrictJson(text);
  return result.ok ? "ok" : result.reason;
}

Deno.test("strict JSON reads what JSON.parse reads", () => {
  for (
    const text of [
      "{}",
      "[]",
      "1",
      '"s"',
      "null",
      '{"a":[1,{"b":2}],"c":{"d":{"e":null}}}',
      '{"__proto__":{"x":1}}',
      '{"a":{"k":1},"b":{"k":2}}',
      '[{"k":1},{"k":2}]',
      '{"A":1,"a":2}',
    ]
  ) {
    const result = parseStrictJson(text);
    ok(result.ok, text);
    deepStrictEqual(result.value, JSON.parse(text));
  }
  const proto = parseStrictJson('{"__proto__":{"x":1}}');
  ok(proto.ok);
  ok(
    Object.hasOwn(proto.value as object, "__proto__"),
    "an own key, not the prototype",
  );
});

Deno.test("strict JSON refuses a duplicate key however it is spelled", () => {
  for (
    const text of [
      '{"a":1,"a":2}',
      '{"a":1,"\\u0061":2}',
      '{"\\u0061":1,"a":2}',
      '{"\\/":1,"/":2}',
      '{"é":1,"\\u00e9":2}',
      '{"\\uD83D\\uDE00":1,"😀":2}',
      '{"\\ud83d\\ude00":1,"\\uD83D\\uDE00":2}',
      '{"__proto__":1,"__proto__":2}',
      '{"__proto__":{},"\\u005f_proto__":{}}',
      '{"a":{"b":{"c":1,"c":1}}}',
      '[1,[2,{"x":1,"y":2,"x":3}]]',
      '{"":1,"":2}',
    ]
  ) {
    equal(reason(text), "duplicate_key", text);
  }
});

Deno.test("strict JSON counts the keys the text spells, not quotes or colons inside strings", () => {
  for (
    const text of [
      '{"a":"\\":\\"","b":1}',
      '{"a\\\\":1,"b":"\\\\:"}',
      '{"a" : "x:y" , "b"\n:\t"\\"\\\\"}',
      '["k":"v"]'.replace(":", ","),
      '{"s":"{\\"a\\":1,\\"a\\":2}"}',
    ]
  ) {
    const result = parseStrictJson(text);
    ok(result.ok, text);
    deepStrictEqual(result.value, JSON.parse(text));
  }
  for (
    const text of [
      '{"a\\\\":1,"a\\\\" :2}',
      '{"x":"\\"","x"\r\n:1}',
      '{"s":"{\\"a\\":1}","t":{"u":[],"u":{}}}',
    ]
  ) {
    equal(reason(text), "duplicate_key", text);
  }
});

Deno.test("strict JSON says where the duplicate is", () => {
  const result = parseStrictJson(
    '{\n  "a": {"list": [0, {"k": 1,\n "k": 2}]}\n}',
  );
  ok(!result.ok);
  equal(
    result.message,
    'duplicate key "k" in the object at $.a.list[1] (line 3, column 2)',
  );
});

Deno.test("strict JSON: keys that differ only after normalisation are different keys", () => {
  // NFC "é" and NFD "e" + combining accent are different JSON strings.
  equal(reason('{"\\u00e9":1,"e\\u0301":2}'), "ok");
  equal(reason('{"a":1,"a ":2}'), "ok");
});

Deno.test("strict JSON refuses what JSON.parse refuses, and deep nesting", () => {
  for (
    const text of ['{"a":1,}', "01", "{'a':1}", '"\t"', "\ufeff{}", "", "[1] x"]
  ) {
    equal(reason(text), "bad_json", JSON.stringify(text));
  }
  const deep = "[".repeat(STRICT_JSON_MAX_DEPTH + 1) +
    "]".repeat(STRICT_JSON_MAX_DEPTH + 1);
  equal(reason(deep), "too_deep");
  const hostile = "[".repeat(100_000) + "]".repeat(100_000);
  equal(reason(hostile), "too_deep");
  const fine = "[".repeat(STRICT_JSON_MAX_DEPTH) +
    "]".repeat(STRICT_JSON_MAX_DEPTH);
  equal(reason(fine), "ok");
});
