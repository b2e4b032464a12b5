/**
 * The other side of discovery, for `device discover` and tests: sends one probe and collects the
 * answers that arrive within a time.
 *
 * @module
 */
import { type DiscoveryInfo, parseAnswer } from "./answer.ts";

/** One appliance that answered. */
export interface DiscoveryReply extends DiscoveryInfo {
  /** Where the answer came from (`ip:port`). */
  from: string;
}

/** Options of {@link discover}. */
export interface ProbeOptions {
  /** Where to send the probe: a broadcast address (default 255.255.255.255) or one host. */
  target?: string;
  port?: number;
  /** How long to collect answers. */
  timeoutMs?: number;
  /** Included in the probe. */
  equipId?: string;
}

/**
 * Sends `{"action":"discover"}` and returns every answer received within `timeoutMs`.
 *
 * @example
 * ```ts
 * const replies = await discover({ target: "192.168.1.255", timeoutMs: 1000 });
 * ```
 */
export async function discover(options: ProbeOptions = {}): Promise<DiscoveryReply[]> {
  const socket = Deno.listenDatagram({ hostname: "0.0.0.0", port: 0, transport: "udp" });
  const replies: DiscoveryReply[] = [];
  const timer = setTimeout(() => socket.close(), options.timeoutMs ?? 1000);
  try {
    const probe: Record<string, string> = { action: "discover" };
    if (options.equipId) probe.equipId = options.equipId;
    await socket.send(new TextEncoder().encode(JSON.stringify(probe)), {
      transport: "udp",
      hostname: options.target ?? "255.255.255.255",
      port: options.port ?? 8686,
    });
    for (;;) {
      const [data, addr] = await socket.receive();
      const info = parseAnswer(data);
      const from = addr as Deno.NetAddr;
      if (info) replies.push({ ...info, from: `${from.hostname}:${from.port}` });
    }
  } catch (e) {
    // Closing the socket at the deadline ends the receive; anything else is a real failure.
    if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted)) {
      clearTimeout(timer);
      try {
        socket.close();
      } catch {
        // already closed
      }
      throw e;
    }
  }
  clearTimeout(timer);
  return replies;
}
