/**
 * Test helper: a throwaway PKI made with the `openssl` CLI at test time — a
 * CA, a server certificate for `127.0.0.1` and `localhost`, a client
 * certificate from that CA, and a client certificate from another CA.
 * @module
 */

/** Paths of one key pair (PEM files). */
export interface TestCert {
  cert: string;
  key: string;
}

/** The PEM files of a test PKI in a temp dir; disposing it removes the dir. */
export interface TestPki extends AsyncDisposable {
  dir: string;
  /** The CA that signed `server` and `client`. */
  ca: string;
  /** Another CA, which signed `strangerClient`. */
  otherCa: string;
  /** Server certificate with SAN IP:127.0.0.1 and DNS:localhost. */
  server: TestCert;
  /** Client certificate signed by `ca`. */
  client: TestCert;
  /** Client certificate signed by `otherCa`. */
  strangerClient: TestCert;
}

/** Makes the PKI in a new temp dir (a few EC P-256 keys, valid one day). */
export async function makeTestPki(): Promise<TestPki> {
  const dir = await Deno.makeTempDir({ prefix: "cap-edge-pki-" });
  const path = (name: string) => `${dir}/${name}`;
  try {
    await _makeCa(path("ca"), "cap-edge test CA");
    await _makeCa(path("other-ca"), "another test CA");
    await _makeLeaf(path("server"), path("ca"), "localhost", [
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "extendedKeyUsage=serverAuth",
    ]);
    await _makeLeaf(path("client"), path("ca"), "operator", [
      "extendedKeyUsage=clientAuth",
    ]);
    await _makeLeaf(path("stranger"), path("other-ca"), "stranger", [
      "extendedKeyUsage=clientAuth",
    ]);
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  const pair = (name: string): TestCert => ({
    cert: path(`${name}.pem`),
    key: path(`${name}.key`),
  });
  return {
    dir,
    ca: path("ca.pem"),
    otherCa: path("other-ca.pem"),
    server: pair("server"),
    client: pair("client"),
    strangerClient: pair("stranger"),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

const _EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

function _makeCa(base: string, name: string): Promise<void> {
  return _makeCert(base, name, null, [
    "basicConstraints=critical,CA:TRUE",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
}

function _makeLeaf(
  base: string,
  ca: string,
  name: string,
  extensions: string[],
): Promise<void> {
  return _makeCert(base, name, ca, [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature",
    ...extensions,
  ]);
}

/**
 * A new key `base.key` and a one-day certificate `base.pem` for `/CN=name`,
 * self-signed, or signed by the CA at `issuer` (`issuer.pem`, `issuer.key`).
 */
async function _makeCert(
  base: string,
  name: string,
  issuer: string | null,
  extensions: string[],
): Promise<void> {
  // OpenSSL 3: `req -x509 -CA` issues a certificate signed by the CA at once.
  await _openssl([
    "req",
    "-x509",
    ..._EC,
    "-nodes",
    "-keyout",
    `${base}.key`,
    "-out",
    `${base}.pem`,
    "-days",
    "1",
    "-subj",
    `/CN=${name}`,
    ...(issuer === null
      ? []
      : ["-CA", `${issuer}.pem`, "-CAkey", `${issuer}.key`]),
    ...extensions.flatMap((e) => ["-addext", e]),
  ]);
}

async function _openssl(args: string[]): Promise<void> {
  const output = await new Deno.Command("openssl", {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `Cannot make a test certificate: openssl ${args[0]} failed: ${
        new TextDecoder().decode(output.stderr).trim()
      }`,
    );
  }
}
