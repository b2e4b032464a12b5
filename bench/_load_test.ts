/**
 * The load generator's devices answer what the appliance pushes right after `loginReturn` (what a
 * device missed while offline): push_bench once lost those pushes and waited out the 30 s push
 * timeout in about one run in three.
 */
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { encodeBody } from "../src/protocol/body.ts";
import { encodeFrame, FrameDecoder } from "../src/protocol/frame.ts";
import { closeDevices, openDevices } from "./_load.ts";

const EMPTY = new Uint8Array();

Deno.test("openDevices: a push right after loginReturn reaches the onPush handler", async () => {
  // A stand-in server: answers login, pushes sendGoods at once, then a health, and records what
  // comes back until the healthReturn (answered in order, so any sendGoodsReturn comes first).
  const answers = Promise.withResolvers<string[]>();
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    const decoder = new FrameDecoder({});
    const seen: string[] = [];
    socket.on("data", (chunk: Uint8Array) => {
      for (const frame of decoder.push(chunk)) {
        const { action, equipId } = frame.header;
        if (action === "login") {
          const uniqueId = String(equipId);
          socket.write(encodeFrame({ action: "loginReturn", uniqueId }, EMPTY, "le"));
          socket.write(
            encodeFrame(
              { action: "sendGoods", uniqueId },
              encodeBody({ exception: "", goods: [] }),
              "le",
            ),
          );
          socket.write(encodeFrame({ action: "health", uniqueId }, EMPTY, "le"));
          continue;
        }
        seen.push(action);
        if (action === "healthReturn") answers.resolve(seen);
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const pushed: string[] = [];
  const devices = await openDevices(port, 1, {
    prefix: "DZBQ_T",
    onPush: (device, frame) => {
      pushed.push(frame.header.action);
      device.write(
        encodeFrame(
          { action: `${frame.header.action}Return`, uniqueId: device.uniqueId },
          encodeBody({ exception: "" }),
          "le",
        ),
      );
    },
  });
  try {
    assert.deepEqual(await answers.promise, ["sendGoodsReturn", "healthReturn"]);
    assert.deepEqual(pushed, ["sendGoods"]);
  } finally {
    closeDevices(devices);
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});
