/**
 * How many texts of at least `chars` characters `JSON.parse` read on this
 * thread while `run` ran (a worker has its own `JSON`).
 */
export async function parsesOfAtLeast(
  chars: number,
  run: () => Promise<unknown>,
): Promise<number> {
  const parse = JSON.parse;
  let count = 0;
  JSON.parse = (text, reviver) => {
    if (typeof text === "string" && text.length >= chars) count++;
    return parse(text, reviver);
  };
  try {
    await run();
  } finally {
    JSON.parse = parse;
  }
  return count;
}
