/**
 * The types of the admin JSON API's route table, shared by the files that contribute routes
 * (`api.ts`, `api_prices.ts`), so neither imports the other for them.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Database } from "../store/database.ts";

/** What the API works on, passed in. */
export interface AdminApiDeps {
  db: Database;
  clock: Clock;
  log: Logger;
}

/** The caller of an authorised request, as the audit log names it. */
export interface Caller {
  /** `adminToken` (the bearer of the configured token) or `loopback` (no token configured). */
  actor: string;
}

/** A request the route handles, with its path parameters and caller. */
export interface RouteRequest {
  request: Request;
  params: string[];
  caller: Caller;
}

/** One API route: method, path pattern, whether it writes (token, audit), handler. */
export interface Route {
  method: "GET" | "POST";
  path: RegExp;
  /** Write actions always need the token when one is configured, and are audited. */
  write: boolean;
  handle(deps: AdminApiDeps, req: RouteRequest): Promise<Response>;
}
