/**
 * What a shelf label shows, recorded in one place (issue 14): a label shows what its base station
 * confirmed — a `sendGoods` push it acknowledged, or the reply to its own `getGoods` by `mac_id`.
 * Both paths call {@link confirmShown}, which records the displays (one statement for a batch)
 * and then announces them (`label-confirmed`); the look-ups come through {@link LabelDisplayBatches},
 * which records the answers of many labels together (2,000 labels asking after a power cut).
 *
 * @module
 */
import { type AppEvents, LABEL_CONFIRMED_EVENT } from "../events.ts";
import type { LabelDisplays } from "../action_types.ts";
import { Batcher } from "../batcher.ts";
import { type Database, type Queryable, WRITE_BATCHES_IN_FLIGHT } from "../store/database.ts";
import { recordAnswers, recordShown, type ShownGoods } from "../store/label_shown.ts";

/** One device's confirmation: these labels now show these goods. */
export interface LabelConfirmation {
  /** The base station (or label) that confirmed. */
  equipId: string;
  shown: ShownGoods[];
  /** When it confirmed (the appliance's clock). */
  at: Date;
}

/** What {@link confirmShown} writes to and announces on. */
export interface LabelDisplayDeps {
  db: Queryable;
  events: AppEvents;
}

/**
 * Records what the labels of `confirmations` show (confirmed by a push acknowledgement or by a
 * label's own `getGoods`), then emits one `label-confirmed` per confirmation that named a label.
 */
export async function confirmShown(
  deps: LabelDisplayDeps,
  via: "push" | "getGoods",
  confirmations: LabelConfirmation[],
): Promise<void> {
  await recordShown(deps.db, confirmations.flatMap(records), via);
  announce(deps.events, confirmations);
}

function records(c: LabelConfirmation) {
  return c.shown.map((s) => ({ ...s, equipId: c.equipId, at: c.at }));
}

function announce(events: AppEvents, confirmations: LabelConfirmation[]): void {
  for (const c of confirmations) {
    if (c.shown.length === 0) continue;
    events.emit(LABEL_CONFIRMED_EVENT, { equipId: c.equipId, macs: c.shown.map((s) => s.mac) });
  }
}

/** What {@link LabelDisplayBatches} writes to and announces on. */
export interface LabelDisplayBatchDeps {
  db: Database;
  events: AppEvents;
  /** Most batches written at once (default: `WRITE_BATCHES_IN_FLIGHT` of the database). */
  inFlight?: number;
}

/**
 * The answers to labels' own `getGoods` by `mac_id`, recorded together: every answer given while
 * the batches in flight are being written goes into the next one, one statement a batch (which
 * devices serve the labels, and what the labels show). A label storm then costs a commit per
 * batch, not per label; a lone label is written at once. Each answer is sent once its batch is
 * committed; of two batches written at once with the same label, its latest confirmation wins
 * whichever commits last (src/store/label_shown.ts).
 */
export class LabelDisplayBatches implements LabelDisplays {
  readonly #batches: Batcher<LabelConfirmation, void>;

  /** @param deps the database (its urgent view: devices wait) and the events to announce on */
  constructor(deps: LabelDisplayBatchDeps) {
    const db = deps.db.urgent();
    this.#batches = new Batcher(
      async (confirmations) => {
        await recordAnswers(db, confirmations.flatMap(records));
        announce(deps.events, confirmations);
        return confirmations.map(() => undefined);
      },
      1000,
      deps.inFlight ?? WRITE_BATCHES_IN_FLIGHT[deps.db.kind],
    );
  }

  answered(equipId: string, shown: ShownGoods[], at: Date): Promise<void> {
    if (shown.length === 0) return Promise.resolve();
    return this.#batches.load({ equipId, shown, at });
  }
}
