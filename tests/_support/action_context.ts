/**
 * An {@link ActionContext} for calling a handler directly (no socket), on a real database.
 *
 * @module
 */
import type { ActionContext } from "../../src/actions/context.ts";
import { defaultConfig } from "../../src/config/config.ts";
import { createMemoryLogger } from "../../src/log.ts";
import { systemClock } from "../../src/clock.ts";
import type { Database } from "../../src/store/database.ts";
import { directGoodsReader } from "../../src/store/goods_cache.ts";
import { LabelDisplayBatches } from "../../src/pricing/label_display.ts";
import { OrderIntake } from "../../src/payment/order_intake.ts";

/** A context for `equipId` on `db`; any field may be overridden. */
export function actionContext(
  db: Database,
  equipId: string,
  overrides: Partial<ActionContext> = {},
): ActionContext {
  return {
    header: { action: "test", length: 0, uniqueId: equipId },
    device: { equipId, uniqueId: equipId, kind: equipId.split("_")[0] },
    peer: "127.0.0.1:5000",
    db,
    goods: directGoodsReader(db),
    labels: new LabelDisplayBatches({ db, events: overrides.events ?? { emit: () => {} } }),
    orders: new OrderIntake({ db }),
    config: defaultConfig(),
    clock: systemClock,
    log: createMemoryLogger(),
    session: {
      login: () => {
        throw new Error("no login here");
      },
      logout: () => {
        throw new Error("no logout here");
      },
    },
    events: { emit: () => {} },
    signal: new AbortController().signal,
    ...overrides,
  };
}
