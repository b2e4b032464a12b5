import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { SessionRegistry } from "./registry.ts";

class FakeSession {
  closedWith: string | undefined;
  close(reason: "taken_over") {
    this.closedWith = reason;
  }
}

Deno.test("takeOver closes the older session and release ignores a replaced one", () => {
  const registry = new SessionRegistry<FakeSession>();
  const first = new FakeSession();
  const second = new FakeSession();
  assertEquals(registry.takeOver("DZBQ_0001", first), undefined);
  assertEquals(registry.takeOver("DZBQ_0001", second), first);
  assertEquals(first.closedWith, "taken_over");
  assertEquals(second.closedWith, undefined);
  registry.release("DZBQ_0001", first);
  assertEquals(registry.get("DZBQ_0001"), second);
  registry.release("DZBQ_0001", second);
  assertEquals(registry.size, 0);
});

Deno.test("a session logging in again under its own identity is not closed", () => {
  const registry = new SessionRegistry<FakeSession>();
  const session = new FakeSession();
  registry.takeOver("DZC_0001", session);
  assertEquals(registry.takeOver("DZC_0001", session), undefined);
  assertEquals(session.closedWith, undefined);
});
