/**
 * The ideal getGoods server: the ceiling the appliance's hot path is measured against
 * (bench/RESULTS.md, issue 26). The same framing and codec as the appliance (src/protocol/), the
 * request body parsed, the goods looked up in a `Map` of the catalogue, the reply JSON-encoded
 * (GBK for a `mac_id` look-up, with the same encoder) and framed — nothing else: no login check
 * beyond remembering the name, no metrics, no deadline, no price parity, no database.
 *
 * It serves the catalogue the appliance served in the same run (`--catalogue FILE`, written by
 * bench/_catalogue.ts from the appliance's own replies), so both encode the same goods objects.
 * `getPayInfo` is priced from the same map in integer cents and answered with a payment URL; the
 * order is kept nowhere (the appliance stores it durably: the ratio shows what that costs).
 *
 * Two I/O APIs: `--io node` (`node:net` sockets read by `data` events, as the appliance) and
 * `--io deno` (`Deno.listen`, one `await conn.read()` loop per connection, the replies of one read
 * written together).
 *
 * Usage: deno run -A bench/ideal_server.ts --port 0 --io node|deno --catalogue FILE [--labels N]
 * (prints {"port":N})
 *
 * @module
 */
import { createServer, type Socket } from "node:net";
import { parseArgs } from "node:util";
import {
  type BodyEncoding,
  decodeBody,
  encodeBody,
  type JsonObject,
} from "../src/protocol/body.ts";
import { encodeFrame, type Frame, FrameDecoder } from "../src/protocol/frame.ts";
import { type Catalogue, labelGoods, labelMac, readCatalogue } from "./_catalogue.ts";

const EMPTY = new Uint8Array(0);

/** The maps the ideal server answers from. */
export interface IdealMaps {
  byBarcode: Map<string, JsonObject>;
  byGid: Map<number, JsonObject>;
  byMac: Map<string, JsonObject>;
  /** Price in cents by goods id (getPayInfo). */
  cents: Map<number, number>;
}

/**
 * Builds the look-up maps of a catalogue, with the first `labels` benchmark labels bound as the
 * appliance binds them (each answered with its own MAC, as `getGoods` by `mac_id` does).
 */
export function idealMaps(catalogue: Catalogue, labels = 0): IdealMaps {
  const maps: IdealMaps = {
    byBarcode: new Map(),
    byGid: new Map(),
    byMac: new Map(),
    cents: new Map(),
  };
  for (const g of catalogue.goods) {
    maps.byGid.set(Number(g.gid), g);
    if (g.scanCode) maps.byBarcode.set(String(g.scanCode), g);
    maps.cents.set(Number(g.gid), Math.round(Number(g.price) * 100));
  }
  for (const [mac, g] of Object.entries(catalogue.labels)) maps.byMac.set(mac, g);
  for (let i = 0; i < labels; i++) {
    const goods = maps.byGid.get(labelGoods(i));
    if (goods) maps.byMac.set(labelMac(i), { ...goods, mac: labelMac(i) });
  }
  return maps;
}

const list = (v: unknown): unknown[] => Array.isArray(v) ? v : [v];

/** One connection's state: the name it logged in with. */
interface Peer {
  uniqueId: string;
  orders: number;
}

function answer(maps: IdealMaps, peer: Peer, frame: Frame): Uint8Array | undefined {
  const action = frame.header.action;
  if (action.endsWith("Return")) return undefined;
  if (action === "login") {
    peer.uniqueId = String(frame.header.equipId ?? "");
    return encodeFrame({ action: "loginReturn", uniqueId: peer.uniqueId }, EMPTY, "le");
  }
  let body: JsonObject;
  let encoding: BodyEncoding = "utf8";
  try {
    const request = decodeBody(frame.body);
    if (action === "getGoods") {
      const goods: JsonObject[] = [];
      if (request.code !== undefined) {
        for (const c of list(request.code)) {
          const g = maps.byBarcode.get(String(c));
          if (g) goods.push(g);
        }
      } else if (request.mac_id !== undefined) {
        encoding = "gbk";
        for (const m of list(request.mac_id)) {
          const g = maps.byMac.get(String(m).toUpperCase());
          if (g) goods.push(g);
        }
      } else {
        for (const id of list(request.gid)) {
          const g = maps.byGid.get(Number(id));
          if (g) goods.push(g);
        }
      }
      body = { exception: "", goods };
    } else if (action === "getPayInfo") {
      let cents = 0;
      for (const line of list(request.goods) as JsonObject[]) {
        cents += (maps.cents.get(Number(line.gid)) ?? NaN) * Number(line.qty ?? line.weight ?? 1);
      }
      const ok = Math.abs(Math.round(cents) - Math.round(Number(request.totalPrice) * 100)) <= 1;
      const code = `${peer.uniqueId}-${++peer.orders}`;
      body = ok
        ? {
          exception: "",
          url: `https://pay.example.com/qr?o=${code}&a=${(cents / 100).toFixed(2)}`,
        }
        : { exception: "errorPrice", url: "" };
    } else {
      body = { exception: "" };
    }
  } catch (e) {
    body = { exception: (e as Error).message };
  }
  return encodeFrame(
    { action: `${action}Return`, uniqueId: peer.uniqueId },
    encodeBody(body, encoding),
    "le",
  );
}

/** A running ideal server. */
export interface IdealServer {
  port: number;
  close(): Promise<void>;
}

function serveNode(maps: IdealMaps, port: number): Promise<IdealServer> {
  const sockets = new Set<Socket>();
  const server = createServer({ noDelay: true }, (socket: Socket) => {
    sockets.add(socket);
    const decoder = new FrameDecoder();
    const peer: Peer = { uniqueId: "", orders: 0 };
    socket.on("data", (chunk: Uint8Array) => {
      const { frames, error } = decoder.decode(chunk);
      for (const frame of frames) {
        const reply = answer(maps, peer, frame);
        if (reply) socket.write(reply);
      }
      if (error) socket.destroy();
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => sockets.delete(socket));
  });
  return new Promise((resolve) => {
    server.listen({ port, host: "127.0.0.1", backlog: 4096 }, () =>
      resolve({
        port: (server.address() as { port: number }).port,
        close: () =>
          new Promise<void>((closed) => {
            server.close(() => closed());
            for (const s of sockets) s.destroy();
          }),
      }));
  });
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) written += await conn.write(bytes.subarray(written));
}

async function serveConn(maps: IdealMaps, conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const decoder = new FrameDecoder();
  const peer: Peer = { uniqueId: "", orders: 0 };
  const buffer = new Uint8Array(16 * 1024);
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      const { frames, error } = decoder.decode(buffer.subarray(0, n));
      const replies: Uint8Array[] = [];
      for (const frame of frames) {
        const reply = answer(maps, peer, frame);
        if (reply) replies.push(reply);
      }
      if (replies.length === 1) await writeAll(conn, replies[0]);
      else if (replies.length > 1) await writeAll(conn, concat(replies));
      if (error) break;
    }
  } catch {
    // the peer went away, or the server closed the connection
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

function serveDeno(maps: IdealMaps, port: number): IdealServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const conns = new Set<Promise<void>>();
  const open = new Set<Deno.TcpConn>();
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        open.add(conn);
        const served = serveConn(maps, conn).finally(() => {
          open.delete(conn);
          conns.delete(served);
        });
        conns.add(served);
      }
    } catch {
      // the listener was closed
    }
  })();
  return {
    port: listener.addr.port,
    async close() {
      listener.close();
      for (const conn of open) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
      await accepting;
      await Promise.all(conns);
    },
  };
}

/** Starts the ideal server on `io` on loopback (`port` 0: any free port). */
export function startIdealServer(
  maps: IdealMaps,
  io: "node" | "deno",
  port = 0,
): Promise<IdealServer> {
  return io === "deno" ? Promise.resolve(serveDeno(maps, port)) : serveNode(maps, port);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string", default: "0" },
      io: { type: "string", default: "node" },
      catalogue: { type: "string" },
      labels: { type: "string", default: "0" },
    },
  });
  if (!values.catalogue) throw new Error("--catalogue FILE is required (bench/_catalogue.ts)");
  const maps = idealMaps(await readCatalogue(values.catalogue), Number(values.labels));
  const io = values.io === "deno" ? "deno" : "node";
  const { port } = await startIdealServer(maps, io, Number(values.port));
  console.log(JSON.stringify({ port }));
}
