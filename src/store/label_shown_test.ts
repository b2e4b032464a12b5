import assert from "node:assert/strict";
import { backends } from "../../tests/_support/databases.ts";
import { eventually } from "../../tests/_support/eventually.ts";
import { LABELS_SHOWN_CHANNEL, recordShown, staleShownPrices } from "./label_shown.ts";

for (const backend of backends()) {
  Deno.test(`labels_shown is announced when the stale labels change, not for a fresh label confirming again (${backend.name})`, async () => {
    const { db, dispose } = await backend.open();
    const heard: string[] = [];
    const listening = Promise.withResolvers<void>();
    const unlisten = await db.listen(
      LABELS_SHOWN_CHANNEL,
      (payload) => heard.push(payload),
      () => listening.resolve(),
    );
    try {
      await listening.promise;
      const mac = "AC:23:3F:00:00:09"; // bound to goods 9 (2.00)
      const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
      const shows = (price: string, s: number) =>
        recordShown(db, [{
          mac,
          gid: 9,
          name: "农夫山泉 550ml",
          price,
          equipId: "DZBQ_1",
          at: at(s),
        }], "getGoods");
      await shows("2.00", 1); // a fresh label: nothing the overlay keeps
      await shows("2.00", 2); // the same again
      await db.query("update goods set name = name where id = 9"); // nothing a label shows changed
      // Notifications arrive in commit order: once this one is heard, any before it were too.
      await db.query("select pg_notify($1, 'barrier')", [LABELS_SHOWN_CHANNEL]);
      await eventually(() => Promise.resolve(heard.includes("barrier")), "the barrier");
      assert.deepEqual(heard, ["barrier"], "fresh confirmations were not announced");
      await shows("1.00", 3); // a label showing an older price: stale
      await eventually(() => Promise.resolve(heard.length >= 2), "the stale label announced");
      assert.deepEqual(
        (await staleShownPrices(db)).map((l) => [l.mac, l.price, l.staleSince.getTime()]),
        [
          [mac, "1.00", at(3).getTime()],
        ],
      );
      await shows("2.00", 4); // fresh again: the overlay must drop it
      await eventually(() => Promise.resolve(heard.length >= 3), "the label fresh again announced");
      assert.deepEqual(await staleShownPrices(db), []);
      // A price change marks it stale (in the goods UPDATE's trigger), and that is announced.
      await db.query("update goods set price = 2.50 where id = 9");
      await eventually(() => Promise.resolve(heard.length >= 4), "the price change announced");
      assert.deepEqual((await staleShownPrices(db)).map((l) => [l.mac, l.price]), [[mac, "2.00"]]);
    } finally {
      await unlisten();
      await dispose();
    }
  });
}
