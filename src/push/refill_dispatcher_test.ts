import assert from "node:assert/strict";
import { agvOrder, isAgv, movedQuantity } from "./refill_dispatcher.ts";

Deno.test("AGVs are devices named AGV_…", () => {
  assert.equal(isAgv({ equipId: "AGV_0001", kind: "AGV" }), true);
  assert.equal(isAgv({ equipId: "DZC_0001", kind: "DZC" }), false);
  assert.equal(isAgv({ equipId: "AGV_0002" }), true);
});

Deno.test("a job goes to the least busy AGV that has not failed it", () => {
  const online = [
    { equipId: "DZBQ_0001", kind: "DZBQ" },
    { equipId: "AGV_0003", kind: "AGV" },
    { equipId: "AGV_0001", kind: "AGV" },
    { equipId: "AGV_0002", kind: "AGV" },
  ];
  assert.deepEqual(agvOrder(online, new Map(), new Set()), ["AGV_0001", "AGV_0002", "AGV_0003"]);
  assert.deepEqual(
    agvOrder(online, new Map([["AGV_0001", 2], ["AGV_0002", 1]]), new Set()),
    ["AGV_0003", "AGV_0002", "AGV_0001"],
  );
  assert.deepEqual(agvOrder(online, new Map(), new Set(["AGV_0001", "AGV_0003"])), ["AGV_0002"]);
  assert.deepEqual(agvOrder(online.slice(0, 1), new Map(), new Set()), []);
});

Deno.test("what an AGV says it moved: qty as text or number, 0, absent or unreadable", () => {
  assert.equal(movedQuantity({ exception: "", qty: "8" }), "8");
  assert.equal(movedQuantity({ exception: "", qty: 2.5 }), "2.5");
  assert.equal(movedQuantity({ exception: "", qty: "0" }), "0");
  assert.equal(movedQuantity({ exception: "", qty: 0 }), "0");
  assert.equal(movedQuantity({ exception: "" }), undefined);
  assert.equal(movedQuantity({ exception: "", qty: "lots" }), undefined);
  assert.equal(movedQuantity({ exception: "", qty: -3 }), undefined);
  assert.equal(movedQuantity(undefined), undefined);
});
