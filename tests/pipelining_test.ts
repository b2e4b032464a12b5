/**
 * Frames that arrive together (in one TCP read): each complete frame before a protocol error is
 * run and answered, nothing after a `logout` is served. Over real TCP, on every backend.
 */
import { concatBytes } from "../src/bytes.ts";
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { startTestAppliance, type TestAppliance } from "./_support/appliance.ts";
import { encodeFrame, type Frame, FrameDecoder } from "../src/protocol/frame.ts";
import { parseBody } from "../src/device/client.ts";

const encoder = new TextEncoder();

function frame(action: string, body: string, header: Record<string, unknown> = {}): Uint8Array {
  return encodeFrame({ action, ...header }, encoder.encode(body), "le");
}

const concat = (...parts: Uint8Array[]) => concatBytes(parts);

/** Writes `bytes` in one write and reads every reply until the server closes (bounded). */
async function exchange(appliance: TestAppliance, bytes: Uint8Array): Promise<Frame[]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: appliance.port });
  const timer = setTimeout(() => conn.close(), 10_000); // a server that never closes fails below
  const frames: Frame[] = [];
  try {
    await conn.write(bytes);
    const decoder = new FrameDecoder();
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (let n; (n = await conn.read(buffer)) !== null;) {
        frames.push(...decoder.push(buffer.subarray(0, n)));
      }
    } catch {
      // reset by the server: closed as well
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // already closed by the timer
    }
  }
  return frames;
}

async function receipts(appliance: TestAppliance, ref: string): Promise<number> {
  const rows = await appliance.app.db.query("select 1 from stock_receipts where ref = $1", [ref]);
  return rows.length;
}

function stock(ref: string): string {
  return JSON.stringify({ whid: 1, ref, goods: [{ gid: 1, qty: 2 }] });
}

for (const { name: backend } of backends()) {
  Deno.test(`frames before a protocol error in the same read are run and answered (${backend})`, async () => {
    const appliance = await startTestAppliance(backend);
    try {
      const id = { uniqueId: "POS_2101" };
      const garbage = new Uint8Array([5, 0, 0, 0, 0x7b, 0x7b, 0x7b, 0x7b, 0x7b]); // "{{{{{"
      const replies = await exchange(
        appliance,
        concat(
          frame("login", "", { equipId: "POS_2101" }),
          frame("getGoods", '{"gid":1}', id),
          frame("stockGoods", stock("PIPE-1"), id),
          garbage,
          frame("stockGoods", stock("PIPE-AFTER"), id),
        ),
      );
      assertEquals(replies.map((f) => f.header.action), [
        "loginReturn",
        "getGoodsReturn",
        "stockGoodsReturn",
      ]);
      assertEquals(parseBody(replies[1].body)?.exception, "");
      const booked = parseBody(replies[2].body);
      assertEquals(booked?.exception, "");
      assert(/^\d+$/.test(String(booked?.picking_id)), JSON.stringify(booked));
      assertEquals(await receipts(appliance, "PIPE-1"), 1, "the stockGoods before the error");
      assertEquals(await receipts(appliance, "PIPE-AFTER"), 0, "nothing after the error");
      assert(
        appliance.logs.some((l) => l.msg === "disconnected" && l.reason === "protocol_error"),
        "closed as a protocol error",
      );
    } finally {
      await appliance.stop();
    }
  });

  Deno.test(`nothing pipelined after logout is served (${backend})`, async () => {
    const appliance = await startTestAppliance(backend);
    try {
      const id = { uniqueId: "POS_2201" };
      const replies = await exchange(
        appliance,
        concat(
          frame("login", "", { equipId: "POS_2201" }),
          frame("logout", "", id),
          frame("getGoods", '{"gid":1}', id),
          frame("stockGoods", stock("AFTER-LOGOUT"), id),
        ),
      );
      const actions = replies.map((f) => f.header.action);
      assertEquals(actions.slice(0, 2), ["loginReturn", "logoutReturn"]);
      for (const reply of replies.slice(2)) {
        // The appliance closes at once; a reply, if any, may only say the session is over.
        assertEquals(parseBody(reply.body)?.exception, "not logged in", reply.header.action);
      }
      assertEquals(await receipts(appliance, "AFTER-LOGOUT"), 0, "stockGoods after logout");
      assert(appliance.logs.some((l) => l.msg === "disconnected" && l.reason === "logout"));
    } finally {
      await appliance.stop();
    }
  });
}
