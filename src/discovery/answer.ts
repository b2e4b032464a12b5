/**
 * UDP discovery, the pure part (PROTOCOL.md §5): which datagrams are probes, and the answer.
 * A probe is the JSON object `{"action":"discover"}`, optionally with `equipId`; anything else is
 * ignored, never answered (an answer to garbage would make the appliance a reflector).
 *
 * @module
 */

/** Largest datagram considered a probe; a real one is about 50 bytes. */
export const MAX_PROBE_BYTES = 512;

/** A valid probe. */
export interface Probe {
  /** The device's name, when it gave one (for the log). */
  equipId?: string;
}

/** What the answer tells the device. */
export interface DiscoveryInfo {
  /** The address devices should connect to. */
  ip: string;
  /** The device TCP port. */
  port: number;
  /** The store id. */
  shop: string;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * Reads a datagram as a probe; `undefined` for anything else (too large, not UTF-8, not a JSON
 * object, another action, a non-text `equipId`).
 *
 * @example
 * ```ts
 * parseProbe(new TextEncoder().encode('{"action":"discover"}')); // {}
 * ```
 */
export function parseProbe(datagram: Uint8Array): Probe | undefined {
  if (datagram.byteLength === 0 || datagram.byteLength > MAX_PROBE_BYTES) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(strictUtf8.decode(datagram));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { action, equipId } = value as Record<string, unknown>;
  if (action !== "discover") return undefined;
  if (equipId === undefined || equipId === null) return {};
  if (typeof equipId !== "string" || equipId.length > 64) return undefined;
  return { equipId };
}

/**
 * The answer datagram: `{"action":"discoverReturn","ip":…,"port":…,"shop":…}`.
 *
 * @example
 * ```ts
 * encodeAnswer({ ip: "192.168.1.10", port: 8686, shop: "shop0001" });
 * ```
 */
export function encodeAnswer(info: DiscoveryInfo): Uint8Array {
  return encoder.encode(
    JSON.stringify({ action: "discoverReturn", ip: info.ip, port: info.port, shop: info.shop }),
  );
}

/** Reads an answer (for the `device discover` probe); `undefined` when it is not one. */
export function parseAnswer(datagram: Uint8Array): DiscoveryInfo | undefined {
  try {
    const value = JSON.parse(strictUtf8.decode(datagram));
    if (
      value?.action === "discoverReturn" && typeof value.ip === "string" &&
      Number.isInteger(value.port) && typeof value.shop === "string"
    ) {
      return { ip: value.ip, port: value.port, shop: value.shop };
    }
  } catch {
    // not an answer
  }
  return undefined;
}
