/**
 * Test stand-ins for the payment flow's outside world, all real: an HTTP server standing in for
 * the payment server (records what it receives; can fail, hang or answer slowly), and an MQTT
 * broker (Mosquitto from `MQTT_URL`, else an in-process aedes broker) with a publisher.
 *
 * @module
 */
import { createServer, type Server } from "node:net";
// Pinned here, not in deno.json's imports: a test-only package (docs/developers.md, "Packages").
// deno-lint-ignore no-import-prefix -- deno.json's imports are the appliance's, see above
import { Aedes } from "npm:aedes@1.2.0";
import mqtt from "mqtt";
import { Buffer } from "node:buffer";

/** One POST the stand-in received. */
export interface PaymentCall {
  orderCode: string;
  price: string;
  openid: string;
  uniqueId: string;
  contentType: string;
  /** What the stand-in answered: the status, or 0 when it hung until the caller gave up. */
  status: number;
}

/** How the stand-in answers. */
export type PaymentServerMode = "ok" | "fail" | "hang";

/** A local HTTP server standing in for the payment server. */
export class PaymentServerStandIn {
  readonly calls: PaymentCall[] = [];
  mode: PaymentServerMode = "ok";
  /** Delay before answering in `ok`/`fail` mode. */
  delayMs = 0;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #hanging = new Set<() => void>();
  readonly #watchers = new Set<() => void>();

  constructor() {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request) => this.#handle(request),
    );
  }

  /** The URL to configure as `paymentServerUrl`. */
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}/pay/create`;
  }

  /** Calls answered with success. */
  get accepted(): PaymentCall[] {
    return this.calls.filter((c) => c.status === 200);
  }

  async #handle(request: Request): Promise<Response> {
    const form = new URLSearchParams(await request.text());
    const call: PaymentCall = {
      orderCode: form.get("orderCode") ?? "",
      price: form.get("price") ?? "",
      openid: form.get("openid") ?? "",
      uniqueId: form.get("uniqueId") ?? "",
      contentType: request.headers.get("content-type") ?? "",
      status: 0,
    };
    this.calls.push(call);
    this.#notify();
    if (this.mode === "hang") {
      await new Promise<void>((resolve) => this.#hanging.add(resolve));
      this.#notify();
      return new Response("too late", { status: 504 });
    }
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    call.status = this.mode === "ok" ? 200 : 503;
    this.#notify();
    return call.status === 200
      ? Response.json({ code: 0, msg: "ok" })
      : new Response("service unavailable", { status: 503 });
  }

  #notify() {
    for (const watcher of this.#watchers) watcher();
  }

  /** Releases requests held in `hang` mode (their callers have long given up). */
  releaseHanging(): void {
    for (const release of this.#hanging) release();
    this.#hanging.clear();
  }

  /** Waits until `predicate` holds for the received calls (checked on each receipt and answer). */
  waitFor(predicate: (calls: PaymentCall[]) => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate(this.calls)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#watchers.delete(check);
        reject(new Error(`payment server stand-in: condition not met in ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        if (!predicate(this.calls)) return;
        clearTimeout(timer);
        this.#watchers.delete(check);
        resolve();
      };
      this.#watchers.add(check);
    });
  }

  /** Stops the server. */
  async close(): Promise<void> {
    this.releaseHanging();
    await this.#server.shutdown();
  }
}

/** An MQTT broker for a test. */
export interface TestBroker {
  url: string;
  close(): Promise<void>;
}

/** Mosquitto from `MQTT_URL` when set (CI), else an in-process aedes broker on a free port. */
export async function startBroker(): Promise<TestBroker> {
  const external = Deno.env.get("MQTT_URL");
  if (external) return { url: external, close: () => Promise.resolve() };
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A unique store id, so that tests sharing one broker do not hear each other. */
export function uniqueShop(): string {
  return `shop${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

/** Publishes messages (QoS 1) with a client of its own, then disconnects. */
export async function publish(
  url: string,
  messages: { topic: string; payload: string | Uint8Array }[],
): Promise<void> {
  const client = await mqtt.connectAsync(url, {
    clientId: `test-pub-${crypto.randomUUID().slice(0, 8)}`,
    reconnectPeriod: 0,
  });
  try {
    for (const m of messages) {
      await client.publishAsync(
        m.topic,
        typeof m.payload === "string" ? m.payload : Buffer.from(m.payload),
        { qos: 1 },
      );
    }
  } finally {
    await client.endAsync();
  }
}

export { eventually } from "./_support/eventually.ts";
