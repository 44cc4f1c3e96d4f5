const _ITERATIONS = 210_000;
const _encoder = new TextEncoder();

function _b64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function _unb64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

async function _derive(
  password: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    _encoder.encode(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  return new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "PBKDF2", hash: "SHA-256", salt, iterations },
      key,
      256,
    ),
  );
}

/**
 * Hashes a console login password for the users file:
 * `pbkdf2-sha256$<iterations>$<salt>$<hash>` (base64).
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await _derive(password, salt, _ITERATIONS);
  return `pbkdf2-sha256$${_ITERATIONS}$${_b64(salt)}$${_b64(hash)}`;
}

/** True when `password` matches `hashed` (from {@linkcode hashPassword}). */
export async function checkPassword(
  password: string,
  hashed: string,
): Promise<boolean> {
  const [scheme, iterations, salt, hash] = hashed.split("$");
  if (
    scheme !== "pbkdf2-sha256" || salt === undefined || hash === undefined ||
    !/^[0-9]{4,7}$/.test(iterations ?? "")
  ) return false;
  let expected: Uint8Array;
  let saltBytes: Uint8Array<ArrayBuffer>;
  try {
    expected = _unb64(hash);
    saltBytes = _unb64(salt);
  } catch {
    return false;
  }
  const actual = await _derive(password, saltBytes, Number(iterations));
  if (actual.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < actual.length; i++) diff |= actual[i]! ^ expected[i]!;
  return diff === 0;
}
