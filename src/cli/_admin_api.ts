/**
 * CLI commands that write while the service runs: on PGlite the database is locked by the
 * running appliance, so the write goes through its admin API instead.
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import { type Database, DatabaseLockedError } from "../store/database.ts";
import { CliError, loadCliConfig, type StoreAccess, withStore } from "./_common.ts";
import { isLoopbackHost } from "../net_address.ts";
import { errorMessage } from "../errors.ts";

/**
 * One call of the running appliance's admin API: method, path, body → JSON answer. The body is
 * sent as JSON, or as it is when it is bytes (a CSV file).
 */
export type ApiCall = (method: string, path: string, body?: unknown) => Promise<unknown>;

/**
 * Runs `local` on the store, or — when the embedded database is held by the running appliance
 * (it admits one process) — `remote` through that appliance's admin API, which does the write
 * and audits it.
 */
export async function withStoreOrApi<T>(
  config: Config,
  local: (db: Database) => Promise<T>,
  remote: (api: ApiCall) => Promise<T>,
  access: StoreAccess = {},
): Promise<T> {
  try {
    return await withStore(config, local, access);
  } catch (e) {
    if (!(e instanceof DatabaseLockedError) || !config.adminEnabled) throw e;
    return remote(adminApiClient(config));
  }
}

/**
 * The body of a store command that may go through the admin API: the configuration from the
 * command's flags, then {@link withStoreOrApi}.
 */
export function storeOrApiCommand<T>(
  values: Record<string, unknown>,
  local: (db: Database) => Promise<T>,
  remote: (api: ApiCall) => Promise<T>,
  access: StoreAccess = {},
): Promise<T> {
  return withStoreOrApi(loadCliConfig(values).config, local, remote, access);
}

/**
 * The origin of the running appliance's admin server: `http://127.0.0.1:8687` on loopback,
 * `https://…` beyond it (the admin server speaks only HTTPS there).
 */
export function adminOrigin(config: Config): string {
  const host = ["0.0.0.0", "::", "[::]", ""].includes(config.adminHost)
    ? "127.0.0.1"
    : config.adminHost;
  const scheme = isLoopbackHost(config.adminHost) ? "http" : "https";
  return `${scheme}://${
    host.includes(":") && !host.startsWith("[") ? `[${host}]` : host
  }:${config.adminPort}`;
}

/**
 * Fetches from the admin server, trusting its certificate file beyond loopback (a self-signed
 * certificate is its own CA; a chain's is checked against the system's CAs as well).
 */
export async function adminFetch(
  config: Config,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const url = adminOrigin(config) + path;
  if (url.startsWith("http:")) return fetch(url, init);
  let cert: string;
  try {
    cert = await Deno.readTextFile(config.adminTlsCertFile);
  } catch (e) {
    throw new CliError(
      `cannot read adminTlsCertFile ${config.adminTlsCertFile}: ${errorMessage(e)}`,
    );
  }
  const client = Deno.createHttpClient({ caCerts: [cert] });
  try {
    const response = await fetch(url, { ...init, client });
    // Read here: the client is closed on return.
    return new Response(await response.arrayBuffer(), response);
  } finally {
    client.close();
  }
}

/** The headers of an admin API call: JSON, and the bearer token when `adminToken` is set. */
export function adminHeaders(config: Config): Record<string, string> {
  return {
    "content-type": "application/json",
    ...(config.adminToken ? { authorization: `Bearer ${config.adminToken}` } : {}),
  };
}

/** A client of the admin API at `adminHost:adminPort`, with `adminToken` when set. */
export function adminApiClient(config: Config): ApiCall {
  const base = adminOrigin(config);
  return async (method, path, body) => {
    let response: Response;
    try {
      response = await adminFetch(config, path, {
        method,
        headers: adminHeaders(config),
        body: body instanceof Uint8Array
          ? body as Uint8Array<ArrayBuffer>
          : body === undefined
          ? undefined
          : JSON.stringify(body),
      });
    } catch (e) {
      throw new CliError(
        `the database is in use and the admin API at ${base} does not answer: ${errorMessage(e)}`,
      );
    }
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new CliError(`admin API ${method} ${path}: ${response.status} ${answer.error ?? ""}`);
    }
    return answer;
  };
}
