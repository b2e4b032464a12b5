/**
 * The sendGoods push worker (PROTOCOL.md §4): a goods change reaches every shelf label and scale
 * by itself, whoever made it.
 *
 * - The database signals changes (`NOTIFY goods_changed`); a notification only wakes the fan-out,
 *   which reads what is to do from `goods_changes` (change counter > pushed counter). So a
 *   notification lost while the listener was disconnected costs nothing: re-`LISTEN` runs the
 *   same pass (catch-up), and so does start-up.
 * - The fan-out turns changes into pending pushes (one per label, one per scale and goods, latest
 *   state wins) in the database, then wakes one sender per affected online device.
 * - A sender sends at most `pushInFlight` pushes at once, each with up to `pushBatchGoods` goods
 *   read at send time (or by the fan-out pass that queued a label's push, for a sender that sends
 *   it at once), waits for `sendGoodsReturn`, and counts failures; after `pushTries` the pushes
 *   are kept, and their tries are given back at the device's next login — or, while the
 *   device stays connected, after one round's time (`pushTries` × `pushTimeoutS`), doubling up to
 *   five minutes. A link that dropped for longer than the tries but shorter than the heartbeat
 *   bound leaves the connection up: found by the fault lab (`deno task faults network`, "8 s
 *   partition in a quiet store"), whose labels stayed on the old price until they logged in again.
 * - Database work is limited to a few queries at once so that a 5,000-goods promotion does not
 *   queue ahead of device requests on the shared pool, and the senders' reads and acknowledgements
 *   are batched across devices (a price change for 1,000 labels is a handful of queries).
 *
 * @module
 */
import { KeyedWorkers, type Next, RetryRounds, Worker } from "../background.ts";
import { DEVICE_LOGIN_EVENT, type DeviceLoginEvent } from "../events.ts";
import type { DeviceLink, PushOutcome } from "../device_link.ts";
import { deviceGoods } from "../goods_view.ts";
import type { Config } from "../config/config.ts";
import type { EventBus } from "../events.ts";
import type { Logger } from "../log.ts";
import type { Database } from "../store/database.ts";
import {
  completePushesOf,
  devicesWithPending,
  failPushes,
  type FanOut,
  fanOutChanges,
  GOODS_CHANGED_CHANNEL,
  type PendingPush,
  pendingPushesOf,
  resetTries,
} from "../store/goods_changes.ts";
import { goodsById, goodsByLabels, type GoodsView } from "../store/goods.ts";
import { confirmShown, type LabelConfirmation } from "../pricing/label_display.ts";
import type { Clock } from "../clock.ts";
import { Limiter } from "./_limiter.ts";
import { Batcher } from "../batcher.ts";
import { errorMessage } from "../errors.ts";

/** The configuration the worker reads. */
export type GoodsPushConfig = Pick<
  Config,
  | "pushTries"
  | "pushTimeoutS"
  | "pushInFlight"
  | "pushBatchGoods"
  | "shelfWarehouse"
  | "refillThreshold"
>;

/** What {@link GoodsPushWorker.start} needs. */
export interface GoodsPushDeps {
  db: Database;
  link: DeviceLink;
  events: Pick<EventBus, "on" | "emit">;
  /** The appliance clock (when labels confirmed, due times). */
  clock: Clock;
  log: Logger;
  config: GoodsPushConfig;
  /**
   * Database queries the worker runs at once (default 2: a burst leaves the rest of the pool to
   * device requests; on PGlite the second one waits in the database's thread, not here).
   */
  dbConcurrency?: number;
  /** Changed goods per fan-out transaction (default 500). */
  fanOutBatch?: number;
  /** First wait before retrying a failed fan-out (default 5 s, doubling up to a minute). */
  retryMs?: number;
}

/** How one push attempt ended (`kept`: failed, and out of tries). */
type Delivery = "acknowledged" | "failed" | "kept" | "offline";

/**
 * How long the views a fan-out pass read stay its senders' to send: a sender still busy with an
 * earlier push (waiting up to `pushTimeoutS` for its answer) reads them again when it gets to
 * them.
 */
const PREFETCH_FRESH_MS = 1000;

/** Longest wait before kept pushes are offered again to a device that stays connected. */
const REOFFER_MAX_MS = 5 * 60_000;

/** Splits pushes into sendGoods frames: label and scale pushes never share one (GBK vs UTF-8). */
export function planBatches(
  pushes: PendingPush[],
  batchSize: number,
  maxBatches: number,
): PendingPush[][] {
  // One pass: a price change wakes a thousand senders at once, each planning here.
  const labels: PendingPush[] = [];
  const goods: PendingPush[] = [];
  for (const p of pushes) (p.kind === "label" ? labels : goods).push(p);
  const batches: PendingPush[][] = [];
  for (const ofKind of [labels, goods]) {
    for (let i = 0; i < ofKind.length && batches.length < maxBatches; i += batchSize) {
      batches.push(ofKind.slice(i, i + batchSize));
    }
  }
  return batches;
}

/** A push's identity across versions: its label, or its goods (for one device). */
function keyOf(push: PendingPush): string {
  return push.kind === "label" ? `l${push.mac}` : `g${push.goodsId}`;
}

function exceptionOf(outcome: PushOutcome): string {
  if (!outcome.ok) return outcome.reason;
  const exception = outcome.reply?.exception;
  return typeof exception === "string" ? exception : "";
}

/** The running worker; {@link GoodsPushWorker.stop} ends it. */
export class GoodsPushWorker {
  readonly #deps: GoodsPushDeps;
  readonly #limiter: Limiter;
  readonly #senders: KeyedWorkers<string>;
  readonly #pending: Batcher<string, PendingPush[]>;
  readonly #labelViews: Batcher<string, GoodsView | undefined>;
  readonly #goodsViews: Batcher<number, GoodsView | undefined>;
  readonly #completed: Batcher<{ equipId: string; pushes: PendingPush[] }, void>;
  readonly #shown: Batcher<LabelConfirmation, void>;
  readonly #triesBack: Batcher<string, void>;
  readonly #fanOut: Worker;
  /** Rounds of kept pushes offered again to connected devices, and when the next is due. */
  readonly #kept: RetryRounds<string>;
  readonly #reofferAt = new Map<string, number>();
  /**
   * What fan-out passes just queued for each woken device, by push: its sender's next round sends
   * these instead of reading back what the pass wrote. The pending tables stay the record (a
   * round that reads them finds these too), so this only saves the read.
   */
  readonly #offered = new Map<string, Map<string, PendingPush>>();
  /** The views of offered label pushes, read by the pass that queued them, and when. */
  readonly #prefetched = new WeakMap<PendingPush, { view: GoodsView | undefined; at: number }>();

  private constructor(deps: GoodsPushDeps) {
    this.#deps = deps;
    const retryMs = deps.retryMs ?? 5000;
    this.#fanOut = new Worker((stopping) => this.#runFanOut(stopping), {
      name: "goods change fan-out",
      log: deps.log,
      clock: deps.clock,
      backoff: { initialMs: retryMs, maxMs: Math.max(retryMs, 60_000) },
    });
    this.#senders = new KeyedWorkers((equipId, stopping) => this.#sendOnce(equipId, stopping), {
      name: "sendGoods sender",
      log: deps.log,
      clock: deps.clock,
      keyField: "equipId",
    });
    this.#limiter = new Limiter(deps.dbConcurrency ?? 2);
    const { db, config } = deps;
    const perDevice = config.pushInFlight * config.pushBatchGoods;
    this.#pending = new Batcher(async (equipIds) => {
      const found = await this.#limiter.run(() =>
        pendingPushesOf(db, equipIds, config.pushTries, perDevice)
      );
      return equipIds.map((e) => found.get(e) ?? []);
    }, 1000);
    this.#labelViews = new Batcher(async (macs) => {
      const views = await this.#limiter.run(() => goodsByLabels(db, [...new Set(macs)]));
      const byMac = new Map(views.map((v) => [v.mac, v]));
      return macs.map((m) => byMac.get(m));
    }, 1000);
    this.#goodsViews = new Batcher(async (ids) => {
      const views = await this.#limiter.run(() => goodsById(db, [...new Set(ids)]));
      const byId = new Map(views.map((v) => [v.gid, v]));
      return ids.map((id) => byId.get(id));
    }, 1000);
    this.#kept = new RetryRounds({
      initialMs: config.pushTries * config.pushTimeoutS * 1000,
      maxMs: Math.max(REOFFER_MAX_MS, config.pushTries * config.pushTimeoutS * 1000),
    });
    // A login storm after a restart resets tries in a few statements, not two per device.
    this.#triesBack = new Batcher(async (equipIds) => {
      await this.#limiter.run(() => resetTries(db, [...new Set(equipIds)]));
      return equipIds.map(() => undefined);
    }, 1000);
    // A price change confirmed by a thousand labels is recorded in a few statements.
    this.#shown = new Batcher(async (confirmations) => {
      await this.#limiter.run(() =>
        confirmShown({ db, events: deps.events }, "push", confirmations)
      );
      return confirmations.map(() => undefined);
    }, 1000);
    this.#completed = new Batcher(async (done) => {
      await this.#limiter.run(() => completePushesOf(db, done));
      return done.map(() => undefined);
    }, 500);
  }

  /**
   * Subscribes to goods changes and device logins and catches up on changes not yet pushed.
   *
   * @example
   * ```ts
   * const worker = await GoodsPushWorker.start({ db, link: server, events, log, config });
   * // … later
   * await worker.stop();
   * ```
   */
  static async start(deps: GoodsPushDeps): Promise<GoodsPushWorker> {
    const worker = new GoodsPushWorker(deps);
    const fanOut = worker.#fanOut;
    fanOut.onStop(deps.events.on(DEVICE_LOGIN_EVENT, (detail) => {
      worker.#onLogin(detail);
    }));
    // (Re-)established: what changed while nobody listened is in goods_changes.
    await fanOut.startListening(deps.db, GOODS_CHANGED_CHANNEL, () => {
      deps.log.info("listening for goods changes", { channel: GOODS_CHANGED_CHANNEL });
      worker.#kickOnlineWithPending();
    });
    return worker;
  }

  /** Runs a fan-out pass soon (coalesced with one that is running). */
  requestFanOut(): void {
    this.#fanOut.wake();
  }

  /** Starts (or re-runs) the sender of one device, if it is online. */
  kick(equipId: string): void {
    // Stopping: the last fan-out batch must not start new pushes that stop() would wait out.
    if (!this.#fanOut.stopped && this.#deps.link.isOnline(equipId)) this.#senders.wake(equipId);
  }

  /** Stops listening and waits for running passes and senders. */
  async stop(): Promise<void> {
    await this.#fanOut.stop();
    await this.#senders.stop();
  }

  #onLogin(detail: DeviceLoginEvent): void {
    if (this.#fanOut.stopped) return;
    const { log } = this.#deps;
    this.#forgetKept(detail.equipId);
    // What it missed while offline, with fresh tries (kept pushes ran out of them).
    this.#triesBack.load(detail.equipId)
      .then(() => this.kick(detail.equipId))
      .catch((e) => {
        log.warn("could not resume pushes after login", {
          equipId: detail.equipId,
          error: errorMessage(e),
        });
      });
  }

  #kickOnlineWithPending(): void {
    const { db, log, config } = this.#deps;
    this.#limiter.run(() => devicesWithPending(db, config.pushTries))
      .then((devices) => devices.forEach((d) => this.kick(d)))
      .catch((e) => log.warn("could not list pending pushes", { error: errorMessage(e) }));
  }

  async #runFanOut(stopping: AbortSignal): Promise<void> {
    const { db, log, config } = this.#deps;
    const batch = this.#deps.fanOutBatch ?? 500;
    const refill = { shelfWarehouse: config.shelfWarehouse, threshold: config.refillThreshold };
    while (!stopping.aborted) {
      const out = await this.#limiter.run(() => fanOutChanges(db, batch, refill));
      if (out.goods === 0) break;
      const devices = new Set(out.queued.map((q) => q.equipId));
      log.debug("goods changes fanned out", {
        goods: out.goods,
        pushes: out.queued.length,
        devices: devices.size,
      });
      if (out.refillJobs.length > 0) {
        log.info("shelf stock low: refill jobs opened", { jobs: out.refillJobs });
      }
      this.#offer(out);
      for (const equipId of devices) this.kick(equipId);
      // A short batch took every change there was: one committed since notifies again. (An
      // empty pass here would hold the embedded database's one connection while the senders
      // just kicked wait for it.)
      if (out.goods < batch) break;
    }
  }

  /**
   * Hands a fan-out pass's pushes to the senders of the devices online now (latest version wins),
   * with what their labels are to show as the pass read it.
   */
  #offer({ queued, labelViews }: Pick<FanOut, "queued" | "labelViews">): void {
    const at = performance.now();
    for (const { equipId, push } of queued) {
      if (this.#fanOut.stopped || !this.#deps.link.isOnline(equipId)) continue;
      let pushes = this.#offered.get(equipId);
      if (!pushes) this.#offered.set(equipId, pushes = new Map());
      const key = keyOf(push);
      const known = pushes.get(key);
      if (known && known.version >= push.version) continue;
      pushes.set(key, push);
      if (push.kind === "label") this.#prefetched.set(push, { view: labelViews.get(push.mac), at });
    }
  }

  /**
   * What a pushed label or goods shows now: its view read by its fan-out a moment ago, or read
   * with those of the other senders at once.
   */
  #viewOf(push: PendingPush): Promise<GoodsView | undefined> {
    if (push.kind === "goods") return this.#goodsViews.load(push.goodsId);
    const prefetched = this.#prefetched.get(push);
    if (prefetched && performance.now() - prefetched.at < PREFETCH_FRESH_MS) {
      return Promise.resolve(prefetched.view);
    }
    return this.#labelViews.load(push.mac);
  }

  /**
   * The pushes a round of `equipId`'s sender sends: those offered by the fan-out since its last
   * round, else (none offered) what is pending for it with tries left, oldest first. Either way
   * at most `pushInFlight` × `pushBatchGoods` of each kind; the rest is read by the next round.
   */
  #pushesOf(equipId: string): Promise<PendingPush[]> {
    const offered = this.#offered.get(equipId);
    this.#offered.delete(equipId);
    if (!offered) return this.#read(equipId);
    const { pushInFlight, pushBatchGoods } = this.#deps.config;
    const perDevice = pushInFlight * pushBatchGoods;
    const labels: PendingPush[] = [];
    const goods: PendingPush[] = [];
    for (const push of offered.values()) {
      const ofKind = push.kind === "label" ? labels : goods;
      if (ofKind.length < perDevice) ofKind.push(push);
    }
    return Promise.resolve([...labels, ...goods]);
  }

  /**
   * What is pending for the device. An offer made while the read was on its way names pushes the
   * read may have found already: those (same version, or older) are sent once, by this round.
   */
  async #read(equipId: string): Promise<PendingPush[]> {
    const pending = await this.#pending.load(equipId);
    const offered = this.#offered.get(equipId);
    if (offered) {
      for (const push of pending) {
        const key = keyOf(push);
        if ((offered.get(key)?.version ?? Infinity) <= push.version) offered.delete(key);
      }
      if (offered.size === 0) this.#offered.delete(equipId);
    }
    return pending;
  }

  #forgetKept(equipId: string): void {
    this.#kept.reset(equipId);
    this.#reofferAt.delete(equipId);
  }

  /**
   * One round of a device's sender: what is pending for it now, in bounded batches; kept pushes
   * get their tries back when their re-offer is due (the wait runs on the monotonic clock).
   */
  async #sendOnce(equipId: string, stopping: AbortSignal): Promise<Next> {
    const { link, config, log } = this.#deps;
    if (stopping.aborted || !link.isOnline(equipId)) {
      this.#offered.delete(equipId); // still pending: read again at its next login
      this.#forgetKept(equipId); // its next login gives them their tries back
      return;
    }
    const due = this.#reofferAt.get(equipId);
    if (due !== undefined && performance.now() >= due) {
      this.#reofferAt.delete(equipId);
      await this.#triesBack.load(equipId);
    }
    const pending = await this.#pushesOf(equipId);
    if (pending.length === 0) {
      const next = this.#reofferAt.get(equipId);
      if (next !== undefined) return { afterMs: next - performance.now() };
      this.#kept.reset(equipId);
      return;
    }
    const batches = planBatches(pending, config.pushBatchGoods, config.pushInFlight);
    const results = await Promise.all(batches.map((b) => this.#deliver(equipId, b)));
    if (results.includes("offline")) return;
    if (results.includes("kept") && !this.#reofferAt.has(equipId)) {
      const waitMs = this.#kept.failed(equipId);
      this.#reofferAt.set(equipId, performance.now() + waitMs);
      log.info("kept sendGoods offered again while the device stays connected", {
        equipId,
        inS: Math.round(waitMs / 1000),
      });
    }
    return { again: true };
  }

  /** What the labels now show (issue 14): recorded before the push counts as done. */
  async #deliver(equipId: string, pushes: PendingPush[]): Promise<Delivery> {
    const { db, link, log, config } = this.#deps;
    const labels = pushes[0].kind === "label";
    // Read now, not when the change happened: latest state wins.
    const views = (await Promise.all(pushes.map((p) => this.#viewOf(p))))
      .filter((v): v is GoodsView => v !== undefined);
    if (views.length === 0) {
      // Unbound labels, deactivated goods: nothing left to show.
      await this.#completed.load({ equipId, pushes });
      return "acknowledged";
    }
    const body = { exception: "", goods: views.map((v) => deviceGoods(v)) };
    const outcome = await link.push(equipId, "sendGoods", body, {
      encoding: labels ? "gbk" : "utf8",
      timeoutMs: config.pushTimeoutS * 1000,
    });
    const exception = exceptionOf(outcome);
    if (outcome.ok && exception === "") {
      if (labels) {
        const shown = views.map((v) => ({ mac: v.mac, gid: v.gid, name: v.name, price: v.price }));
        const at = new Date(this.#deps.clock.now());
        await this.#shown.load({ equipId, shown, at });
      }
      await this.#completed.load({ equipId, pushes });
      return "acknowledged";
    }
    // A device that went away keeps its pushes, with their tries, for its next login.
    if (!outcome.ok && outcome.reason === "offline") return "offline";
    const reason = outcome.ok ? `device answered: ${exception}` : outcome.reason;
    const exhausted = await this.#limiter.run(() =>
      failPushes(db, equipId, pushes, reason, config.pushTries)
    );
    if (exhausted > 0) {
      log.warn("sendGoods undelivered; kept, offered again later and at the device's next login", {
        equipId,
        pushes: exhausted,
        reason,
      });
    }
    if (!outcome.ok && outcome.reason !== "timeout") return "offline";
    return exhausted > 0 ? "kept" : "failed";
  }
}
