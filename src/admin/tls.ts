/**
 * The admin server's TLS beyond loopback: the certificate and key files of the configuration (a
 * pair install.sh makes self-signed, or the chain's own), and the certificate's SHA-256
 * fingerprint, which install.sh prints and `/healthz` shows, so that whoever connects from head
 * office can check that the certificate they are shown is the store's.
 *
 * @module
 */
import { type Config, ConfigError } from "../config/config.ts";
import { isLoopbackHost } from "../net_address.ts";
import { errorMessage } from "../errors.ts";

/** The admin server's certificate and key (PEM), and the certificate's fingerprint. */
export interface AdminTls {
  cert: string;
  key: string;
  /** SHA-256 of the first certificate's DER bytes, upper-case hex pairs joined by colons. */
  fingerprintSha256: string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/;

/**
 * The SHA-256 fingerprint of the first certificate in a PEM text, as
 * `openssl x509 -noout -fingerprint -sha256` prints it (after the `=`); undefined when the text
 * holds no certificate.
 *
 * @example
 * ```ts
 * await certificateFingerprint(await Deno.readTextFile("/etc/newretail/tls/admin.crt"));
 * // "3F:0A:…:9C"
 * ```
 */
export async function certificateFingerprint(pem: string): Promise<string | undefined> {
  const match = PEM_CERTIFICATE.exec(pem);
  if (!match) return undefined;
  let der: Uint8Array<ArrayBuffer>;
  try {
    der = Uint8Array.from(atob(match[1].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return [...digest].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
}

/**
 * Reads the admin server's TLS pair when it listens beyond loopback (undefined on loopback, which
 * stays plain HTTP, and when no files are configured: {@link assertAdminExposure} refuses that).
 * A file that cannot be read, or a certificate file without a certificate, is a
 * {@link ConfigError} naming its key.
 */
export async function loadAdminTls(
  config: Pick<Config, "adminHost" | "adminTlsCertFile" | "adminTlsKeyFile">,
  readTextFile: (path: string) => Promise<string> = (p) => Deno.readTextFile(p),
): Promise<AdminTls | undefined> {
  if (isLoopbackHost(config.adminHost)) return undefined;
  if (!config.adminTlsCertFile || !config.adminTlsKeyFile) return undefined;
  const read = async (key: "adminTlsCertFile" | "adminTlsKeyFile") => {
    try {
      return await readTextFile(config[key]);
    } catch (e) {
      throw new ConfigError(key, `cannot read ${config[key]}: ${errorMessage(e)}`);
    }
  };
  const cert = await read("adminTlsCertFile");
  const key = await read("adminTlsKeyFile");
  const fingerprintSha256 = await certificateFingerprint(cert);
  if (!fingerprintSha256) {
    throw new ConfigError(
      "adminTlsCertFile",
      `${config.adminTlsCertFile} holds no PEM certificate`,
    );
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
    throw new ConfigError("adminTlsKeyFile", `${config.adminTlsKeyFile} holds no PEM private key`);
  }
  return { cert, key, fingerprintSha256 };
}
