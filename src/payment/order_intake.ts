/**
 * The tills' new orders, read and stored together: every order asked for while a batch is being
 * written goes into the next one, one statement and one commit a batch (`createOrders`), and the
 * goods they are priced from are read the same way, one statement for the orders of many tills.
 * Each order is still durable before its till is answered; a rush of orders then costs a commit
 * per batch, not per order, which bounded `getPayInfo` by the database's disk flushes
 * (bench/RESULTS.md, issue 26). A lone order is read and written at once.
 *
 * @module
 */
import type { OrderWriter } from "../action_types.ts";
import { Batcher } from "../batcher.ts";
import { type Database, WRITE_BATCHES_IN_FLIGHT } from "../store/database.ts";
import { type GoodsAndShown, goodsAndShown } from "../store/label_shown.ts";
import { type CreatedOrder, createOrder, createOrders, type OrderDraft } from "../store/orders.ts";

/** Most orders in one statement. */
const MAX_BATCH = 100;

type Outcome = { created: CreatedOrder } | { error: unknown };

/** Stores the orders of many requests in shared statements. */
export class OrderIntake implements OrderWriter {
  readonly #batches: Batcher<OrderDraft, Outcome>;
  readonly #reads: Batcher<readonly number[], GoodsAndShown[]>;

  /** @param deps the database (its urgent view: tills wait) */
  constructor(deps: { db: Database }) {
    const db = deps.db.urgent();
    const alone = (draft: OrderDraft): Promise<Outcome> =>
      createOrder(db, draft).then((created) => ({ created }), (error) => ({ error }));
    this.#batches = new Batcher(
      async (drafts) => {
        if (drafts.length === 1) return [await alone(drafts[0])];
        try {
          return (await createOrders(db, drafts)).map((created) => ({ created }));
        } catch {
          // The statement stored none of them: each on its own, so that an order the database
          // refuses fails alone and not the tills that happened to share its batch.
          return await Promise.all(drafts.map(alone));
        }
      },
      MAX_BATCH,
      WRITE_BATCHES_IN_FLIGHT[deps.db.kind],
    );
    this.#reads = new Batcher(async (asked) => {
      const all = await goodsAndShown(db, [...new Set(asked.flat())]);
      return asked.map((ids) => {
        const wanted = new Set(ids);
        return all.filter((g) => wanted.has(g.id));
      });
    }, MAX_BATCH);
  }

  goods(ids: readonly number[]): Promise<GoodsAndShown[]> {
    return this.#reads.load(ids);
  }

  async create(draft: OrderDraft): Promise<CreatedOrder> {
    const outcome = await this.#batches.load(draft);
    if ("error" in outcome) throw outcome.error;
    return outcome.created;
  }
}
