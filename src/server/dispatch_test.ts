import assert from "node:assert/strict";
import { backends } from "../../tests/_support/databases.ts";
import { actionContext } from "../../tests/_support/action_context.ts";
import type { ActionEntry } from "../action_types.ts";
import { defaultConfig } from "../config/config.ts";
import { UserError } from "../errors.ts";
import type { Database } from "../store/database.ts";
import { runAction } from "./dispatch.ts";
import { CORE_ACTIONS } from "../actions/mod.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

function request(db: Database, requestTimeoutS = 10, logins: string[] = []) {
  const config = { ...defaultConfig(), requestTimeoutS };
  const { signal: _, ...ctx } = actionContext(db, "POS_0001", {
    config,
    session: {
      login: ({ equipId }) => {
        logins.push(equipId);
        return equipId;
      },
      logout: () => {},
    },
  });
  return ctx;
}

async function suite(t: Deno.TestContext, db: Database) {
  await t.step("an entry that ignores its body gets {} whatever was sent", async () => {
    const entry: ActionEntry = {
      handle: (_ctx, body) => Promise.resolve({ body: { exception: "", seen: body } }),
      ignoresBody: true,
    };
    const result = await runAction(entry, request(db), bytes("not json"));
    assert.deepEqual(result.body, { exception: "", seen: {} });
  });

  await t.step("other entries refuse a body that is not JSON", async () => {
    const entry: ActionEntry = { handle: () => Promise.resolve({ body: { exception: "" } }) };
    const result = await runAction(entry, request(db), bytes("not json"));
    assert.match(String(result.body?.exception), /JSON/);
  });

  await t.step("the action table, not the handler, picks a reply's encoding", async () => {
    const entry: ActionEntry = {
      handle: (_ctx, body) =>
        body.fail
          ? Promise.reject(new UserError("refused"))
          : Promise.resolve({ body: { exception: "" } }),
      replyEncoding: (body) => body.mac_id ? "gbk" : "utf8",
    };
    const gbk = await runAction(entry, request(db), bytes('{"mac_id":"AC"}'));
    assert.equal(gbk.encoding, "gbk");
    const utf8 = await runAction(entry, request(db), bytes('{"gid":1}'));
    assert.equal(utf8.encoding, "utf8");
    // A refusal is answered as before, in UTF-8, whatever the body asked.
    const refused = await runAction(entry, request(db), bytes('{"mac_id":"AC","fail":1}'));
    assert.deepEqual(refused, { body: { exception: "refused" } });
    const getGoods = CORE_ACTIONS.getGoods.replyEncoding!;
    assert.equal(getGoods({ mac_id: "AC:01" }), "gbk");
    assert.equal(getGoods({ code: "6901", mac_id: "AC:01" }), "utf8", "code wins over mac_id");
    assert.equal(getGoods({ gid: 1 }), "utf8");
  });

  await t.step("failure fields are added to failures only, the reason wins", async () => {
    const failing: ActionEntry = {
      handle: () => Promise.reject(new UserError("no such thing")),
      failureBody: { url: "", exception: "placeholder" },
    };
    assert.deepEqual((await runAction(failing, request(db), bytes("{}"))).body, {
      url: "",
      exception: "no such thing",
    });
    const fine: ActionEntry = {
      handle: () => Promise.resolve({ body: { exception: "", url: "https://x" } }),
      failureBody: { url: "" },
    };
    assert.deepEqual((await runAction(fine, request(db), bytes("{}"))).body, {
      exception: "",
      url: "https://x",
    });
  });

  await t.step("a timed-out handler can no longer log the session in", async () => {
    const logins: string[] = [];
    const late = Promise.withResolvers<unknown>();
    const entry: ActionEntry = {
      handle: async (ctx) => {
        await new Promise((r) => setTimeout(r, 100));
        try {
          ctx.session.login({
            equipId: "POS_0001",
            kind: "POS",
            loginAt: new Date(),
            generation: 1,
          });
          late.resolve("logged in");
        } catch (e) {
          late.resolve(e);
        }
        return { body: null };
      },
      public: true,
      ignoresBody: true,
    };
    const result = await runAction(entry, request(db, 0.02, logins), bytes(""));
    assert.deepEqual(result.body, { exception: "request timed out, try again later" });
    assert.equal((await late.promise as Error).name, "DeadlineExceeded");
    assert.deepEqual(logins, []);
  });
}

// The rules do not depend on the database: the first available backend is enough.
const backend = backends()[0];
Deno.test(`runAction applies the action table's rules (${backend.name})`, async (t) => {
  const opened = await backend.open();
  try {
    await suite(t, opened.db);
  } finally {
    await opened.dispose();
  }
});
