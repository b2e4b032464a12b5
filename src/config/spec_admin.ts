/**
 * Configuration keys: the admin HTTP server and its API. Part of `CONFIG_SPEC` (spec.ts).
 *
 * @module
 */
import { boolean, fail, field, host, port, text } from "./parsers.ts";

/** The admin HTTP server and its API. */
export const ADMIN_KEYS = {
  // Admin HTTP
  adminEnabled: field({
    env: "NEWRETAIL_ADMIN",
    default: true,
    parse: boolean,
    doc: "Serve /healthz, /metrics and /devices.",
  }),
  adminHost: field({
    env: "NEWRETAIL_ADMIN_HOST",
    default: "127.0.0.1",
    parse: host,
    doc: "Admin HTTP listen address (loopback by default).",
  }),
  adminPort: field({
    env: "NEWRETAIL_ADMIN_PORT",
    default: 8687,
    parse: port,
    doc: "Admin HTTP port; 0 picks a free port.",
  }),
  adminToken: field({
    env: "NEWRETAIL_ADMIN_TOKEN",
    default: "",
    secret: true,
    parse: (v) => {
      const s = text(v);
      return s === "" || s.length >= 16 ? s : fail("must be at least 16 characters (or empty)");
    },
    doc:
      "Bearer token of the admin HTTP API: needed by every /api/ write, and by every request when adminHost is not loopback.",
  }),
  adminTlsCertFile: field({
    env: "NEWRETAIL_ADMIN_TLS_CERT_FILE",
    default: "",
    parse: text,
    doc:
      "PEM certificate (chain) of the admin server. With adminTlsKeyFile it serves HTTPS; required when adminHost is not loopback (install.sh makes a self-signed pair).",
  }),
  adminTlsKeyFile: field({
    env: "NEWRETAIL_ADMIN_TLS_KEY_FILE",
    default: "",
    parse: text,
    doc: "PEM private key of adminTlsCertFile (readable by the service only).",
  }),
};
