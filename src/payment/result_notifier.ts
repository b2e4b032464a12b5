/**
 * Delivers `sendPayResult` (PROTOCOL.md §4) to the device that created each settled or expired
 * order. What is owed lives in the database (`pay_results`), so nothing is lost across restarts:
 * a device that is offline gets it the next time it logs in; one that does not answer within the
 * configured tries gets it then too, or, while it stays connected, after one round's time
 * (`pushTries` × `pushTimeoutS`), doubling up to five minutes. (A till whose link dropped for a
 * few seconds keeps its connection: found by the fault lab, `deno task faults network`, whose
 * tills were never told of payments made during an 8 s partition.)
 *
 * @module
 */
import { KeyedWorkers, type Next, RetryRounds } from "../background.ts";
import { Batcher } from "../batcher.ts";
import type { Clock } from "../clock.ts";
import { DEVICE_LOGIN_EVENT } from "../events.ts";
import type { DeviceLink } from "../device_link.ts";
import type { Config } from "../config/config.ts";
import type { EventBus } from "../events.ts";
import type { Logger } from "../log.ts";
import type { Database } from "../store/database.ts";
import {
  devicesOwedAmong,
  devicesOwedResults,
  markResultAttempt,
  markResultDelivered,
  type OwedResult,
  owedResults,
} from "../store/pay_results.ts";
import { printLines } from "../store/print_lines.ts";
import { payResultBody } from "./print_list.ts";

/** The push action. */
export const SEND_PAY_RESULT = "sendPayResult";

const RESULT_BATCH = 100;
/** Longest wait before unanswered results are offered again to a device that stays connected. */
const REOFFER_MAX_MS = 5 * 60_000;

/** What the notifier is built from. */
export interface PayResultNotifierDeps {
  db: Database;
  link: DeviceLink;
  config: Pick<Config, "pushTimeoutS" | "pushTries">;
  clock: Clock;
  log: Logger;
}

/** Pushes owed payment results to devices, one device at a time per device. */
export class PayResultNotifier {
  readonly #deps: PayResultNotifierDeps;
  // One delivery run per device at a time; a request during a run schedules one more run.
  readonly #devices: KeyedWorkers<string>;
  // Logins ask whether they are owed anything together: a storm is a few statements.
  readonly #owed: Batcher<string, boolean>;
  // Rounds of unanswered results offered again while their device stays connected.
  readonly #unanswered: RetryRounds<string>;

  /** @param deps store, device link, push settings, clock, logger */
  constructor(deps: PayResultNotifierDeps) {
    this.#deps = deps;
    const roundMs = deps.config.pushTries * deps.config.pushTimeoutS * 1000;
    this.#unanswered = new RetryRounds({
      initialMs: roundMs,
      maxMs: Math.max(REOFFER_MAX_MS, roundMs),
    });
    this.#owed = new Batcher(async (equipIds) => {
      const owed = await devicesOwedAmong(deps.db, [...new Set(equipIds)]);
      return equipIds.map((id) => owed.has(id));
    }, 1000);
    this.#devices = new KeyedWorkers((equipId, stopping) => this.#deliverOwed(equipId, stopping), {
      name: "payment result delivery",
      log: deps.log,
      clock: deps.clock,
      keyField: "equipId",
    });
  }

  /**
   * Delivers on every device login; returns the unsubscribe function. Call {@link deliverOnline}
   * once after attaching to serve devices that logged in before.
   */
  attach(events: EventBus): () => void {
    return events.on(DEVICE_LOGIN_EVENT, (detail) => {
      const login = detail;
      if (typeof login?.equipId !== "string") return;
      this.#unanswered.reset(login.equipId);
      this.#deliverIfOwed(login.equipId);
    });
  }

  #deliverIfOwed(equipId: string): void {
    // When the look-up fails the device's own run finds out (and retries with backoff).
    this.#owed.load(equipId).then(
      (owed) => owed ? this.deliver(equipId) : undefined,
      () => this.deliver(equipId),
    );
  }

  /** Delivers what is owed to every device that is online now. */
  async deliverOnline(): Promise<void> {
    const owed = await devicesOwedResults(this.#deps.db);
    await Promise.all(
      owed.filter((id) => this.#deps.link.isOnline(id)).map((id) => this.deliver(id)),
    );
  }

  /**
   * Delivers what is owed to one device now, if it is online. Resolves when this run (and any
   * run it was queued behind) is over; never throws.
   */
  deliver(equipId: string): Promise<void> {
    return this.#devices.wake(equipId);
  }

  async #deliverOwed(equipId: string, stopping: AbortSignal): Promise<Next> {
    const { db, link, log } = this.#deps;
    if (!link.isOnline(equipId)) {
      this.#unanswered.reset(equipId);
      return;
    }
    for (;;) {
      const batch = await owedResults(db, equipId, RESULT_BATCH);
      if (batch.length === 0) break;
      const outcome = await this.#deliverBatch(equipId, batch, stopping);
      if (outcome === "unanswered" && !stopping.aborted && link.isOnline(equipId)) {
        const waitMs = this.#unanswered.failed(equipId);
        log.info("payment results offered again while the device stays connected", {
          equipId,
          inS: Math.round(waitMs / 1000),
        });
        return { afterMs: waitMs };
      }
      if (outcome !== "delivered") return;
      if (batch.length < RESULT_BATCH) break;
    }
    this.#unanswered.reset(equipId);
  }

  // `unanswered`: a result got no answer in its tries; `offline`: the device went away.
  async #deliverBatch(
    equipId: string,
    batch: OwedResult[],
    stopping: AbortSignal,
  ): Promise<"delivered" | "unanswered" | "offline"> {
    const { db, link, config, clock, log } = this.#deps;
    for (const owed of batch) {
      const body = payResultBody(owed, await printLines(db, owed.orderId));
      const fields = {
        equipId,
        code: owed.code,
        orderId: owed.terminalOrderId,
        result: owed.result,
      };
      let delivered = false;
      for (let attempt = 1; attempt <= config.pushTries && !stopping.aborted; attempt++) {
        const outcome = await link.push(equipId, SEND_PAY_RESULT, body, {
          timeoutMs: config.pushTimeoutS * 1000,
        });
        if (outcome.ok) {
          await markResultDelivered(db, owed.orderId, owed.result, new Date(clock.now()));
          const answer = outcome.reply.exception;
          if (typeof answer === "string" && answer !== "") {
            log.warn("payment result refused by device", { ...fields, exception: answer });
          } else log.info("payment result delivered", fields);
          delivered = true;
          break;
        }
        await markResultAttempt(db, owed.orderId, outcome.reason);
        // Offline or a closed connection: the next login delivers it.
        if (outcome.reason !== "timeout") {
          log.info("payment result kept for the device's next login", {
            ...fields,
            reason: outcome.reason,
          });
          return "offline";
        }
      }
      if (!delivered) {
        if (!stopping.aborted) {
          log.warn(
            "payment result undelivered; kept, offered again later and at the device's next login",
            {
              ...fields,
              tries: config.pushTries,
            },
          );
        }
        // A device that does not answer would make every further result wait out the timeouts.
        return "unanswered";
      }
    }
    return "delivered";
  }

  /** Stops delivering; waits for runs in progress (each bounded by the push timeout). */
  stop(): Promise<void> {
    return this.#devices.stop();
  }
}
