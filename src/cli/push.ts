/**
 * `push-goods --gid N | --all` and `refill --gid N`: operator commands for pushes. Both write to
 * the database and let the running appliance act (the database notifies it, as for any change),
 * then watch the database to report progress. With the embedded database the appliance must be
 * stopped first (one process owns it); what was recorded is acted on when it starts.
 *
 * @module
 */
import type { Queryable } from "../store/database.ts";
import { activeGoodsIds, markGoodsChanged } from "../store/goods_changes.ts";
import { createRefillJob, refillJob } from "../store/positions.ts";
import { CliError, CONFIG_FLAGS_HELP, parseStoreCommand, storeCommand } from "./_common.ts";

const PUSH_HELP = `newretail push-goods --gid N[,N…] | --all [--wait S] [options]

Pushes sendGoods for these goods again to every shelf label bound to them and every scale, as a
price change would, and reports progress until the running appliance has delivered them to the
online devices (pushes for offline devices are kept for their next login) or --wait seconds
(default 30) have passed.

${CONFIG_FLAGS_HELP}`;

const REFILL_HELP = `newretail refill --gid N [--wait S] [options]

Opens a refill job for goods N (which needs a position) and waits up to --wait seconds (default
30) for the running appliance to have it acknowledged by an AGV.

${CONFIG_FLAGS_HELP}`;

const MARK_CHUNK = 1000;

/** Progress of a push: how far the appliance is. */
export interface PushProgress {
  total: number;
  /** Goods the appliance has turned into pending pushes. */
  fannedOut: number;
  /** Pending pushes to online devices with tries left: being sent now. */
  sending: number;
  /** Pending pushes to offline devices or out of tries: kept for the next login. */
  kept: number;
}

/** Reads how far the push of these goods is. */
export async function pushProgress(
  db: Queryable,
  ids: number[],
  maxTries: number,
): Promise<PushProgress> {
  const [row] = await db.query<{ fanned: number; sending: number; kept: number }>(
    `with pending as (
       select p.equip_id, p.tries from pending_label_pushes p
       join label_bindings b on b.mac = p.mac where b.goods_id = any($1::int[])
       union all
       select p.equip_id, p.tries from pending_scale_pushes p where p.goods_id = any($1::int[])
     )
     select
       (select count(*) from goods_changes where goods_id = any($1::int[])
         and change_no = pushed_no)::int as fanned,
       (select count(*) from pending p join devices d on d.equip_id = p.equip_id
         where d.online and p.tries < $2)::int as sending,
       (select count(*) from pending p left join devices d on d.equip_id = p.equip_id
         where not coalesce(d.online, false) or p.tries >= $2)::int as kept`,
    [ids, maxTries],
  );
  return { total: ids.length, fannedOut: row.fanned, sending: row.sending, kept: row.kept };
}

/** One progress line. */
export function progressLine(p: PushProgress): string {
  return `fanned out ${p.fannedOut}/${p.total} goods; sending ${p.sending} push(es); ` +
    `kept for offline devices ${p.kept}`;
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
  const requested = values.gid ? parseIds(values.gid) : undefined;
  return await storeCommand(values, async (db, config) => {
    const ids = requested ?? await activeGoodsIds(db);
    let marked = 0;
    for (let i = 0; i < ids.length; i += MARK_CHUNK) {
      marked += await markGoodsChanged(db, ids.slice(i, i + MARK_CHUNK));
      if (ids.length > MARK_CHUNK) console.log(`marked ${marked}/${ids.length} goods`);
    }
    if (marked < ids.length) {
      console.log(`${ids.length - marked} of the ids are not goods (ignored)`);
    }
    const known = requested
      ? (await db.query<{ id: number }>("select id from goods where id = any($1::int[])", [ids]))
        .map((r) => r.id)
      : ids;
    if (known.length === 0) throw new CliError(requested ? "no such goods" : "no active goods");
    console.log(`${known.length} goods marked for push`);
    const deadline = Date.now() + wait * 1000;
    let last = "";
    for (;;) {
      const progress = await pushProgress(db, known, config.pushTries);
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
            } goods yet (is it running?); they are pushed when it runs`
            : `still sending ${progress.sending} push(es); the appliance carries on`,
        );
        return 0;
      }
      await sleep(500);
    }
  });
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
  return await storeCommand(values, async (db) => {
    let opened;
    try {
      opened = await createRefillJob(db, gid);
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    const { job } = opened;
    console.log(
      opened.created
        ? `refill job ${job.id} opened for goods ${gid}`
        : `goods ${gid} already has open refill job ${job.id}`,
    );
    const deadline = Date.now() + wait * 1000;
    let attempts = -1;
    for (;;) {
      const now = await refillJob(db, job.id);
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
  });
}
