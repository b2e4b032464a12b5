/**
 * What a shelf label shows, recorded in one place (issue 14): a label shows what its base station
 * confirmed — a `sendGoods` push it acknowledged, or the reply to its own `getGoods` by `mac_id`.
 * Both paths call {@link confirmShown}, which records the displays (one statement for a batch)
 * and then announces them (`label-confirmed`).
 *
 * @module
 */
import { type AppEvents, LABEL_CONFIRMED_EVENT } from "../events.ts";
import type { Queryable } from "../store/database.ts";
import { recordShown, type ShownGoods } from "../store/label_shown.ts";

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
  const records = confirmations.flatMap((c) =>
    c.shown.map((s) => ({ ...s, equipId: c.equipId, at: c.at }))
  );
  await recordShown(deps.db, records, via);
  for (const c of confirmations) {
    if (c.shown.length === 0) continue;
    deps.events.emit(LABEL_CONFIRMED_EVENT, {
      equipId: c.equipId,
      macs: c.shown.map((s) => s.mac),
    });
  }
}
