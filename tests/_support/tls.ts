/**
 * A self-signed certificate and key for the admin server's TLS tests, made by openssl as
 * install.sh makes them (EC P-256, names localhost and 127.0.0.1), and openssl's own fingerprint
 * of it to compare with the appliance's.
 *
 * @module
 */

/** A certificate and key in a temporary directory. */
export interface TestTlsPair {
  dir: string;
  certFile: string;
  keyFile: string;
  cert: string;
  /** `openssl x509 -fingerprint -sha256`, after the `=`. */
  opensslFingerprint: string;
  remove(): Promise<void>;
}

async function openssl(args: string[]): Promise<string> {
  const out = await new Deno.Command("openssl", { args, stdin: "null" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (out.code !== 0) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

/** Makes a self-signed pair for `names` (subjectAltName entries, e.g. `DNS:localhost`). */
export async function selfSignedPair(
  names = ["DNS:localhost", "IP:127.0.0.1"],
): Promise<TestTlsPair> {
  const dir = await Deno.makeTempDir({ prefix: "newretail-tls-" });
  const certFile = `${dir}/admin.crt`;
  const keyFile = `${dir}/admin.key`;
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=newretail-test",
    "-addext",
    `subjectAltName=${names.join(",")}`,
    // Not a CA: rustls refuses a CA certificate as a server's own ("CaUsedAsEndEntity").
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-addext",
    "keyUsage=critical,digitalSignature",
    "-addext",
    "extendedKeyUsage=serverAuth",
    "-keyout",
    keyFile,
    "-out",
    certFile,
  ]);
  const fingerprint = await openssl(["x509", "-in", certFile, "-noout", "-fingerprint", "-sha256"]);
  return {
    dir,
    certFile,
    keyFile,
    cert: await Deno.readTextFile(certFile),
    opensslFingerprint: fingerprint.trim().split("=")[1],
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}
