/**
 * The UDP discovery responder (PROTOCOL.md §5), the I/O edge around {@link parseProbe}: receives
 * datagrams, answers valid probes to their sender at most `ratePerMinute` times per sender
 * address, ignores everything else. Needs Deno's unstable net API (`Deno.listenDatagram`).
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { encodeAnswer, MAX_PROBE_BYTES, parseProbe } from "./answer.ts";
import { type InterfaceAddress, localAddressFor } from "./local_address.ts";
import { RateLimiter } from "./rate_limit.ts";
import { errorMessage } from "../errors.ts";
import type { Clock } from "../clock.ts";

/** What {@link DiscoveryResponder.listen} needs. */
export interface DiscoveryOptions {
  /** Listen address (the device server's `host`). */
  hostname: string;
  /** UDP port; 0 picks a free one. */
  port: number;
  /** The device TCP port told to devices. */
  tcpPort: number;
  /** The store id told to devices. */
  shop: string;
  /** The address told to devices; empty: the local address on the sender's subnet. */
  advertiseHost: string;
  ratePerMinute: number;
  log: Logger;
  clock: Clock;
  /** The local interfaces (default `Deno.networkInterfaces()`, read per answer: DHCP moves). */
  interfaces?: () => InterfaceAddress[];
}

/** A running responder. */
export class DiscoveryResponder {
  readonly #listener: Deno.DatagramConn;
  readonly #options: DiscoveryOptions;
  readonly #limiter: RateLimiter;
  readonly #loop: Promise<void>;
  #closed = false;
  #warnedInterfaces = false;
  /** Probes answered, probes over the rate limit, datagrams ignored (counters for tests/metrics). */
  readonly stats = { answered: 0, limited: 0, ignored: 0 };

  private constructor(listener: Deno.DatagramConn, options: DiscoveryOptions) {
    this.#listener = listener;
    this.#options = options;
    this.#limiter = new RateLimiter(options.ratePerMinute, 60_000, options.clock);
    this.#loop = this.#run();
  }

  /**
   * Binds the UDP port and starts answering.
   *
   * @example
   * ```ts
   * const discovery = DiscoveryResponder.listen({
   *   hostname: "0.0.0.0", port: 8686, tcpPort: 8686, shop: "shop0001", advertiseHost: "",
   *   ratePerMinute: 12, log,
   * });
   * await discovery.close();
   * ```
   */
  static listen(options: DiscoveryOptions): DiscoveryResponder {
    const listener = Deno.listenDatagram({
      hostname: options.hostname,
      port: options.port,
      transport: "udp",
    });
    return new DiscoveryResponder(listener, options);
  }

  /** The bound address. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
  }

  async #run(): Promise<void> {
    const { log } = this.#options;
    // One byte more than a probe may have: a datagram that fills it is too large (truncated).
    const buffer = new Uint8Array(MAX_PROBE_BYTES + 1);
    while (!this.#closed) {
      let data: Uint8Array;
      let from: Deno.NetAddr;
      try {
        const [received, addr] = await this.#listener.receive(buffer);
        data = received;
        from = addr as Deno.NetAddr;
      } catch (e) {
        if (this.#closed) return;
        log.warn("discovery receive failed", { error: errorMessage(e) });
        continue;
      }
      try {
        await this.#handle(data, from);
      } catch (e) {
        // Nothing a datagram carries may stop the responder.
        log.error("discovery datagram handling failed", { error: errorMessage(e) });
      }
    }
  }

  async #handle(data: Uint8Array, from: Deno.NetAddr): Promise<void> {
    const { log } = this.#options;
    const probe = parseProbe(data);
    if (!probe) {
      this.stats.ignored++;
      log.debug("discovery datagram ignored", { from: from.hostname, bytes: data.byteLength });
      return;
    }
    if (!this.#limiter.allow(from.hostname)) {
      this.stats.limited++;
      log.debug("discovery probe over the rate limit", { from: from.hostname });
      return;
    }
    const ip = this.#options.advertiseHost || this.#localAddress(from.hostname);
    if (!ip) return;
    const answer = encodeAnswer({ ip, port: this.#options.tcpPort, shop: this.#options.shop });
    try {
      await this.#listener.send(answer, from);
      this.stats.answered++;
      log.info("discovery probe answered", { from: from.hostname, equipId: probe.equipId, ip });
    } catch (e) {
      log.warn("discovery answer not sent", { to: from.hostname, error: errorMessage(e) });
    }
  }

  // Reading the interfaces needs Deno's sys permission (networkInterfaces): without it, or with no
  // IPv4 address, the probe is not answered and the operator is told how to fix it, once.
  #localAddress(sender: string): string | undefined {
    const { log } = this.#options;
    let ip: string | undefined;
    try {
      ip = localAddressFor(sender, (this.#options.interfaces ?? Deno.networkInterfaces)());
    } catch (e) {
      if (!this.#warnedInterfaces) {
        this.#warnedInterfaces = true;
        log.error("discovery cannot read the network interfaces; set advertiseHost", {
          error: errorMessage(e),
        });
      }
      return undefined;
    }
    if (!ip) log.warn("discovery probe not answered: no local IPv4 address", { from: sender });
    return ip;
  }

  /** Stops answering and releases the port. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#listener.close();
      } catch {
        // already closed
      }
    }
    await this.#loop;
  }
}
