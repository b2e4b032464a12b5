/**
 * `push-goods --gid N | --all` and `refill --gid N`: operator commands for pushes. Both record
 * what is asked (goods marked changed, a refill job) and let the running appliance act, then
 * follow its progress. On PostgreSQL they work on the database beside the running appliance;
 * with the embedded database they go through the running appliance's admin API, and when it is
 * not running they record and say at once that it happens when it starts.
 *
 * @module
 */
import type { Database } from "../store/database.ts";
import { createRefillJob, type RefillJob, refillJob } from "../store/positions.ts";
import { markForPush } from "../push/progress.ts";
import { type PushProgress, pushProgress } from "../store/push_progress.ts";
import type { Config } from "../config/config.ts";
import { UserError } from "../errors.ts";
import { CliError, CONFIG_FLAGS_HELP, loadCliConfig, parseStoreCommand } from "./_common.ts";
import { type ApiCall, withStoreOrApi } from "./_admin_api.ts";

const PUSH_HELP = `newretail push-goods --gid N[,N…] | --all [--wait S] [options]

Pushes sendGoods for these goods again to every shelf label bound to them and every scale, as a
price change would, and reports progress until the running appliance has delivered them to the
online devices (pushes for offline devices are kept for their next login) or --wait seconds
(default 30) have passed. With the embedded database and the appliance stopped, the goods are
marked at once and pushed when it starts.

${CONFIG_FLAGS_HELP}`;

const REFILL_HELP = `newretail refill --gid N [--wait S] [options]

Opens a refill job for goods N (which needs a position) and waits up to --wait seconds (default
30) for the running appliance to have it acknowledged by an AGV. With the embedded database and
the appliance stopped, the job is opened at once and offered to AGVs when it starts.

${CONFIG_FLAGS_HELP}`;

/** One progress line. */
export function progressLine(p: PushProgress): string {
  return `fanned out ${p.fannedOut}/${p.total} goods; sending ${p.sending} push(es); ` +
    `kept for offline devices ${p.kept}`;
}

/**
 * Where a push or refill command works: on the store itself (PostgreSQL, or the embedded database
 * while the appliance is stopped: `running` false) or through the running appliance's admin API.
 */
interface Access<T> {
  /** Whether an appliance is running to act on what is recorded (unknown on PostgreSQL: true). */
  running: boolean;
  work: T;
}

/**
 * Runs `fromStore` on the store or `fromApi` through the admin API (see {@link withStoreOrApi}),
 * then `follow` with the access it got — while the store is still open when it is local.
 */
function withAccess<T, R>(
  config: Config,
  fromStore: (db: Database) => T,
  fromApi: (api: ApiCall) => T,
  follow: (access: Access<T>) => Promise<R>,
): Promise<R> {
  return withStoreOrApi(
    config,
    (db) => follow({ running: config.databaseUrl !== "", work: fromStore(db) }),
    (api) => follow({ running: true, work: fromApi(api) }),
  );
}

function parseIds(text: string): number[] {
  const ids = text.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (ids.length === 0 || ids.some((n) => !Number.isInteger(n) || n < 1 || n > 2 ** 31 - 1)) {
    throw new CliError(`--gid must be goods ids (N or N,N,…), got ${text}`, 2);
  }
  return [...new Set(ids)];
}

function waitSeconds(text: string | undefined): number {
  const n = Number(text ?? "30");
  if (!Number.isFinite(n) || n < 0) throw new CliError(`--wait must be seconds >= 0`, 2);
  return n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What `push-goods` does on the store or through the admin API. */
interface PushWork {
  mark(ids: number[] | "all"): Promise<{ goods: number[]; unknown: number }>;
  progress(goods: number[]): Promise<PushProgress>;
}

/** Runs `push-goods`. */
export async function pushGoodsCommand(args: string[]): Promise<number> {
  const { values, exit } = parseStoreCommand(args, PUSH_HELP, {
    gid: { type: "string" },
    all: { type: "boolean" },
    wait: { type: "string" },
  }, "none");
  if (exit !== undefined) return exit;
  if (!values.all === !values.gid) throw new CliError(`give --gid N or --all\n\n${PUSH_HELP}`, 2);
  const wait = waitSeconds(values.wait);
  const requested = values.gid ? parseIds(values.gid) : "all";
  const { config } = loadCliConfig(values);
  return await withAccess<PushWork, number>(
    config,
    (db) => ({
      mark: (ids) => markForPush(db, ids, console.log),
      progress: (goods) => pushProgress(db, goods, config.pushTries),
    }),
    (api) => ({
      mark: async (ids) =>
        (await api("POST", "/api/push-goods", { gids: ids })) as {
          goods: number[];
          unknown: number;
        },
      progress: async (goods) =>
        (await api("POST", "/api/push-goods/progress", {
          gids: goods,
          tries: config.pushTries,
        })) as PushProgress,
    }),
    async ({ running, work }) => {
      const { goods, unknown } = await work.mark(requested);
      if (unknown > 0) console.log(`${unknown} of the ids are not goods (ignored)`);
      if (goods.length === 0) {
        throw new CliError(requested === "all" ? "no active goods" : "no such goods");
      }
      console.log(`${goods.length} goods marked for push`);
      if (!running) {
        console.log("the appliance is not running: they are pushed when it starts");
        return 0;
      }
      const deadline = Date.now() + wait * 1000;
      let last = "";
      for (;;) {
        const progress = await work.progress(goods);
        const line = progressLine(progress);
        if (line !== last) console.log(line);
        last = line;
        if (progress.fannedOut === progress.total && progress.sending === 0) {
          console.log(
            `done: delivered to the online devices` +
              (progress.kept > 0 ? `; ${progress.kept} push(es) kept for their next login` : ""),
          );
          return 0;
        }
        if (Date.now() >= deadline) {
          console.log(
            progress.fannedOut < progress.total
              ? `the appliance has not picked up ${
                progress.total - progress.fannedOut
              } goods yet; they are pushed when it does`
              : `still sending ${progress.sending} push(es); the appliance carries on`,
          );
          return 0;
        }
        await sleep(500);
      }
    },
  );
}

/** What `refill` does on the store or through the admin API. */
interface RefillWork {
  open(gid: number): Promise<{ job: RefillJob; created: boolean }>;
  job(id: number): Promise<RefillJob | undefined>;
}

/** Runs `refill`. */
export async function refillCommand(args: string[]): Promise<number> {
  const { values, exit } = parseStoreCommand(args, REFILL_HELP, {
    gid: { type: "string" },
    wait: { type: "string" },
  }, "none");
  if (exit !== undefined) return exit;
  if (!values.gid) throw new CliError(`give --gid N\n\n${REFILL_HELP}`, 2);
  const [gid, ...more] = parseIds(values.gid);
  if (more.length > 0) throw new CliError("refill takes one --gid", 2);
  const wait = waitSeconds(values.wait);
  const { config } = loadCliConfig(values);
  return await withAccess<RefillWork, number>(
    config,
    (db) => ({
      open: (gid) =>
        createRefillJob(db, gid).catch((e) => {
          throw e instanceof UserError ? new CliError(e.message) : e;
        }),
      job: (id) => refillJob(db, id),
    }),
    (api) => ({
      open: async (gid) =>
        (await api("POST", "/api/refill", { gid })) as { job: RefillJob; created: boolean },
      job: async (id) => ((await api("GET", `/api/refill/${id}`)) as { job: RefillJob }).job,
    }),
    async ({ running, work }) => {
      const { job, created } = await work.open(gid);
      console.log(
        created
          ? `refill job ${job.id} opened for goods ${gid}`
          : `goods ${gid} already has open refill job ${job.id}`,
      );
      if (!running) {
        console.log("the appliance is not running: the job is offered to AGVs when it starts");
        return 0;
      }
      const deadline = Date.now() + wait * 1000;
      let attempts = -1;
      for (;;) {
        const now = await work.job(job.id);
        if (!now) throw new CliError(`refill job ${job.id} disappeared`);
        if (now.state === "done") {
          console.log(`refill job ${job.id} acknowledged by ${now.equipId}`);
          return 0;
        }
        if (now.state === "cancelled") {
          throw new CliError(`refill job ${job.id} cancelled: ${now.lastError}`);
        }
        if (now.attempts !== attempts) {
          attempts = now.attempts;
          if (attempts > 0) console.log(`offered ${attempts} time(s); last: ${now.lastError}`);
        }
        if (Date.now() >= deadline) {
          console.log(
            `refill job ${job.id} is still open; the appliance offers it to AGVs as they connect`,
          );
          return 0;
        }
        await sleep(500);
      }
    },
  );
}
