/**
 * Which of the appliance's addresses a device should connect to: the one on the device's own
 * subnet. Pure: the interface list is passed in (from `Deno.networkInterfaces()`).
 *
 * @module
 */

/** The part of `Deno.NetworkInterfaceInfo` used here. */
export interface InterfaceAddress {
  family: "IPv4" | "IPv6";
  address: string;
  netmask: string;
}

function ipv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    n = n * 256 + Number(part);
  }
  return n;
}

/**
 * The local IPv4 address on `sender`'s subnet; else, for a loopback sender, 127.0.0.1; else the
 * first non-loopback IPv4 address; `undefined` when there is none.
 *
 * @example
 * ```ts
 * localAddressFor("192.168.1.50", [
 *   { family: "IPv4", address: "10.0.0.2", netmask: "255.0.0.0" },
 *   { family: "IPv4", address: "192.168.1.10", netmask: "255.255.255.0" },
 * ]); // "192.168.1.10"
 * ```
 */
export function localAddressFor(
  sender: string,
  interfaces: InterfaceAddress[],
): string | undefined {
  const v4 = interfaces.filter((i) => i.family === "IPv4" && ipv4(i.address) !== undefined);
  const from = ipv4(sender.replace(/^::ffff:/i, ""));
  if (from !== undefined) {
    for (const i of v4) {
      const mask = ipv4(i.netmask);
      if (mask === undefined || mask === 0) continue;
      // >>> 0 keeps the results unsigned 32-bit.
      if (((from & mask) >>> 0) === ((ipv4(i.address)! & mask) >>> 0)) return i.address;
    }
    if (from >>> 24 === 127) return "127.0.0.1";
  }
  return v4.find((i) => !i.address.startsWith("127."))?.address;
}
