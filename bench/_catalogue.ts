/**
 * The catalogue the ideal server (bench/ideal_server.ts) answers from, taken from a running
 * appliance over the device protocol: every goods object as `getGoods` by `gid` returns it to a
 * till, and every demo shelf label's as `getGoods` by `mac_id` returns it. The ideal then encodes
 * the very objects the appliance encodes.
 *
 * @module
 */
import { decodeBody, decodeText, type JsonObject } from "../src/protocol/body.ts";
import { encodeFrame } from "../src/protocol/frame.ts";
import { DEMO_LABELS } from "../src/store/demo.ts";
import { closeDevices, openDevices } from "./_load.ts";

/** The MAC of the i-th shelf label a benchmark binds (bench/_processes.ts `labels`). */
export function labelMac(i: number): string {
  const hex = i.toString(16).toUpperCase().padStart(6, "0");
  return `BE:0C:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
}

/** The goods the i-th benchmark label is bound to (one of the demo's packaged goods, 9–20). */
export function labelGoods(i: number): number {
  return 9 + (i % 12);
}

/** Goods objects as the appliance answers them. */
export interface Catalogue {
  /** By goods id, as `getGoods` {"gid"} answers a till. */
  goods: JsonObject[];
  /** Label MAC → its goods object, as `getGoods` {"mac_id"} answers. */
  labels: Record<string, JsonObject>;
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** Asks the appliance on `port` for its whole catalogue (one till, one label connection). */
export async function fetchCatalogue(port: number): Promise<Catalogue> {
  const [till] = await openDevices(port, 1, { prefix: "POS_CATALOGUE" });
  try {
    const ids: number[] = [];
    for (let ost = 0;; ost += 1000) {
      const page = await till.request(
        encodeFrame(
          { action: "getAllGoods", uniqueId: till.uniqueId },
          json({ ost, lmt: 1000 }),
          "le",
        ),
      );
      const goods = decodeBody(page.body).goods as JsonObject[];
      for (const g of goods) ids.push(Number(g.gid));
      if (goods.length < 1000) break;
    }
    const byGid = await till.request(
      encodeFrame({ action: "getGoods", uniqueId: till.uniqueId }, json({ gid: ids }), "le"),
    );
    const goods = decodeBody(byGid.body).goods as JsonObject[];
    const labels: Record<string, JsonObject> = {};
    for (const { mac } of DEMO_LABELS) {
      const reply = await till.request(
        encodeFrame({ action: "getGoods", uniqueId: till.uniqueId }, json({ mac_id: mac }), "le"),
      );
      const [g] = JSON.parse(decodeText(reply.body, "gbk")).goods as JsonObject[];
      if (g) labels[mac] = g;
    }
    if (goods.length === 0) throw new Error("the appliance answered an empty catalogue");
    return { goods, labels };
  } finally {
    closeDevices([till]);
  }
}

/** Writes a catalogue to a file for the ideal server. */
export async function writeCatalogue(path: string, catalogue: Catalogue): Promise<void> {
  await Deno.writeTextFile(path, JSON.stringify(catalogue));
}

/** Reads a catalogue written by {@link writeCatalogue}. */
export async function readCatalogue(path: string): Promise<Catalogue> {
  return JSON.parse(await Deno.readTextFile(path)) as Catalogue;
}
