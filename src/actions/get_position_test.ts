import assert from "node:assert/strict";
import { backends } from "../../tests/_support/databases.ts";
import { actionContext } from "../../tests/_support/action_context.ts";
import { UserError } from "../errors.ts";
import { setPosition } from "../store/positions.ts";
import type { ActionContext } from "./context.ts";
import type { Database } from "../store/database.ts";
import { getPosition } from "./get_position.ts";

function context(db: Database): ActionContext {
  return actionContext(db, "AGV_0001", {
    header: { action: "getPosition", length: 0, uniqueId: "AGV_0001" },
  });
}

function suite(backend: ReturnType<typeof backends>[number]) {
  return async (t: Deno.TestContext) => {
    const { db, dispose } = await backend.open();
    try {
      const ctx = context(db);
      const stock = { posx: "B2", posy: "4", posz: "2" };
      const shelf = { posx: "A1", posy: "7", posz: "1" };
      await setPosition(db, 2, stock, shelf);
      const code =
        (await db.query<{ barcode: string }>("select barcode from goods where id = 2"))[0]
          .barcode;

      await t.step("by gid (number or text) and by code", async () => {
        const expected = { exception: "", stockPosition: stock, goodsPosition: shelf };
        assert.deepEqual((await getPosition(ctx, { gid: 2 })).body, expected);
        assert.deepEqual((await getPosition(ctx, { gid: "2" })).body, expected);
        assert.deepEqual((await getPosition(ctx, { code })).body, expected);
      });

      await t.step("unknown goods, no position, bad or missing keys are exceptions", async () => {
        await assert.rejects(getPosition(ctx, { gid: 424242 }), UserError, "unknown goods");
        await assert.rejects(getPosition(ctx, { code: "0000" }), UserError, "unknown goods");
        await assert.rejects(getPosition(ctx, { gid: 1 }), UserError, "no position for goods 1");
        await assert.rejects(getPosition(ctx, { gid: -1 }), UserError, "gid must be");
        await assert.rejects(getPosition(ctx, { gid: [1] }), UserError, "gid must be");
        await assert.rejects(getPosition(ctx, { code: { x: 1 } }), UserError, "code must be");
        await assert.rejects(getPosition(ctx, {}), UserError, "needs gid or code");
      });
    } finally {
      await dispose();
    }
  };
}

for (const backend of backends()) {
  Deno.test(`getPosition (${backend.name})`, suite(backend));
}
