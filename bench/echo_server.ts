/**
 * The baseline of every benchmark: a minimal framed echo server. Same framing as the appliance
 * (the same decoder), one fixed reply per frame, nothing else. `--mode node` (the appliance's way) reads
 * with `node:net` sockets; `--mode deno` with a `Deno.listen`/`await conn.read()` loop per
 * connection and `--mode deno-queued` the same without awaiting writes (the fairness comparison).
 *
 * Usage: deno run -A bench/echo_server.ts --port 0 [--mode node|deno|deno-queued]   (prints {"port":N})
 *
 * @module
 */
import { createServer, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { encodeFrame, FrameDecoder } from "../src/protocol/frame.ts";

const REPLY_BODY = new TextEncoder().encode(
  JSON.stringify({
    exception: "",
    goods: [{
      gid: 1,
      name: "红富士苹果",
      mac: "AC:23:3F:00:00:01",
      scanCode: "6901234500011",
      price: 12.8,
      standardPrice: 8.5,
      description: "红富士苹果，脆甜多汁",
      area: "山东烟台",
      feature: "脆甜多汁",
      stock: "23.75",
    }],
  }),
);
const REPLY = encodeFrame({ action: "echoReturn", uniqueId: "ECHO" }, REPLY_BODY, "le");

function serveDeno(port: number, queued = false): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  (async () => {
    for await (const conn of listener) {
      conn.setNoDelay(true);
      (async () => {
        const decoder = new FrameDecoder();
        const buffer = new Uint8Array(4096);
        try {
          for (;;) {
            const n = await conn.read(buffer);
            if (n === null) break;
            const frames = decoder.push(buffer.subarray(0, n));
            for (let i = 0; i < frames.length; i++) {
              if (frames[i].header.action.endsWith("Return")) continue;
              if (queued) conn.write(REPLY).catch(() => {});
              else await conn.write(REPLY);
            }
          }
        } catch {
          // peer gone
        } finally {
          try {
            conn.close();
          } catch { /* closed */ }
        }
      })();
    }
  })();
  return listener.addr.port;
}

function serveNode(port: number): Promise<number> {
  const server = createServer({ noDelay: true }, (socket: Socket) => {
    const decoder = new FrameDecoder();
    socket.on("data", (chunk: Uint8Array) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const f of frames) if (!f.header.action.endsWith("Return")) socket.write(REPLY);
    });
    socket.on("error", () => socket.destroy());
  });
  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { port: { type: "string", default: "0" }, mode: { type: "string", default: "node" } },
  });
  const port = values.mode === "node"
    ? await serveNode(Number(values.port))
    : serveDeno(Number(values.port), values.mode === "deno-queued");
  console.log(JSON.stringify({ port }));
}
