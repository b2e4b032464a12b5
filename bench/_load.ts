/**
 * The load generator's devices: lean protocol clients on `node:net` sockets (data events, no
 * per-read promise), one outstanding request each (closed loop), answering the server's `health`.
 * Latencies are recorded in milliseconds.
 *
 * @module
 */
import { connect, type Socket } from "node:net";
import { encodeFrame, type Frame, FrameDecoder } from "../src/protocol/frame.ts";

const EMPTY = new Uint8Array();

/** One simulated device connection. */
export class LoadDevice {
  readonly equipId: string;
  uniqueId = "";
  readonly socket: Socket;
  #decoder = new FrameDecoder({
    limits: { minHeaderBytes: 2, maxHeaderBytes: 1 << 20, maxBodyBytes: 64 << 20 },
  });
  #pending: { resolve(frame: Frame): void; reject(e: Error): void } | undefined;
  #onPush: ((device: LoadDevice, frame: Frame) => void) | undefined;
  closed = false;

  private constructor(socket: Socket, equipId: string) {
    this.socket = socket;
    this.equipId = equipId;
    socket.on("data", (chunk: Uint8Array) => {
      let frames: Frame[];
      try {
        frames = this.#decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const frame of frames) this.#receive(frame);
    });
    socket.on("close", () => {
      this.closed = true;
      const pending = this.#pending;
      this.#pending = undefined;
      pending?.reject(new Error(`${equipId}: connection closed while waiting for a reply`));
    });
    socket.on("error", () => {});
  }

  /** Connects to `port` on loopback. */
  static connect(port: number, equipId: string): Promise<LoadDevice> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port, noDelay: true });
      socket.once("connect", () => {
        socket.removeListener("error", reject);
        resolve(new LoadDevice(socket, equipId));
      });
      socket.once("error", reject);
    });
  }

  /** Server pushes other than `health` go here (price pushes acknowledged by the bench). */
  onPush(handler: (device: LoadDevice, frame: Frame) => void): void {
    this.#onPush = handler;
  }

  #receive(frame: Frame): void {
    const action = frame.header.action;
    if (action === "health") {
      this.write(encodeFrame({ action: "healthReturn", uniqueId: this.uniqueId }, EMPTY, "le"));
      return;
    }
    if (this.#onPush && action.startsWith("send")) {
      this.#onPush(this, frame);
      return;
    }
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.resolve(frame);
  }

  /** Writes raw bytes. */
  write(bytes: Uint8Array): void {
    if (!this.closed) this.socket.write(bytes);
  }

  /** Sends one frame and resolves with the next reply frame. */
  request(bytes: Uint8Array): Promise<Frame> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error("closed"));
      this.#pending = { resolve, reject };
      this.socket.write(bytes);
    });
  }

  /** Logs in (the reply's `uniqueId` becomes the device's). */
  async login(): Promise<void> {
    const reply = await this.request(
      encodeFrame({ action: "login", equipId: this.equipId }, EMPTY, "le"),
    );
    this.uniqueId = String(reply.header.uniqueId ?? "");
    if (!this.uniqueId) {
      const reason = new TextDecoder().decode(reply.body);
      throw new Error(`login refused for ${this.equipId}: ${reply.header.action} ${reason}`);
    }
  }

  /** Closes the socket. */
  close(): void {
    this.socket.destroy();
  }
}

/** Options of {@link openDevices}. */
export interface OpenDevicesOptions {
  prefix?: string;
  login?: boolean;
  concurrency?: number;
  /**
   * Handles server pushes from the first byte on. The appliance delivers what a device missed
   * right after its `loginReturn`: a handler set only after `openDevices` returns would miss those
   * pushes, leave them unacknowledged, and the server would retry them only after its push
   * timeout (30 s in push_bench).
   */
  onPush?: (device: LoadDevice, frame: Frame) => void;
}

/** Connects and logs in `count` devices, at most `concurrency` at a time. */
export async function openDevices(
  port: number,
  count: number,
  options: OpenDevicesOptions = {},
): Promise<LoadDevice[]> {
  const prefix = options.prefix ?? "POS_B";
  const devices: LoadDevice[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const device = await LoadDevice.connect(port, `${prefix}${String(i).padStart(5, "0")}`);
      if (options.onPush) device.onPush(options.onPush);
      if (options.login ?? true) await device.login();
      devices[i] = device;
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 500, count) }, worker));
  return devices;
}

/** Closes every device. */
export function closeDevices(devices: LoadDevice[]): void {
  for (const d of devices) d?.close();
}

/** Result of a closed-loop run. */
export interface LoopResult {
  requests: number;
  seconds: number;
  /** Replies (recorded ones) that were not a success: see {@link failedReply}. */
  errors: number;
  /** Latencies in ms, sorted. */
  latencies: Float64Array;
}

const SUCCESS = new TextEncoder().encode('{"exception":""');

/**
 * Whether a reply is not a success: a body that does not begin `{"exception":""` (every
 * successful reply the benchmarks ask for does, in UTF-8 and in GBK alike), or a reply to another
 * action than the one asked.
 */
export function failedReply(asked: string, reply: Frame): boolean {
  if (reply.header.action !== `${asked}Return`) return true;
  const body = reply.body;
  if (body.byteLength < SUCCESS.byteLength) return true;
  for (let i = 0; i < SUCCESS.byteLength; i++) if (body[i] !== SUCCESS[i]) return true;
  return false;
}

/**
 * Every device sends `frameFor(device, n)` (n = its request count), waits for the reply, and
 * repeats, for `seconds` (after a warm-up that is not recorded). With `asked`, replies are checked
 * ({@link failedReply}) and the failures counted.
 */
export async function closedLoop(
  devices: LoadDevice[],
  frameFor: (device: LoadDevice, n: number) => Uint8Array,
  seconds: number,
  warmupSeconds = 1,
  asked?: (device: LoadDevice, n: number) => string,
): Promise<LoopResult> {
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const recordFrom = start + warmupSeconds * 1000;
  const end = recordFrom + seconds * 1000;
  await Promise.all(devices.map(async (device) => {
    for (let n = 0; !device.closed; n++) {
      const t0 = performance.now();
      if (t0 >= end) break;
      let reply: Frame;
      try {
        reply = await device.request(frameFor(device, n));
      } catch {
        errors++; // the server closed the connection
        break;
      }
      if (t0 >= recordFrom) {
        latencies.push(performance.now() - t0);
        if (asked && failedReply(asked(device, n), reply)) errors++;
      }
    }
  }));
  return { requests: latencies.length, seconds, errors, latencies: sorted(latencies) };
}

/**
 * Open loop: each device sends one request every `periodS` seconds at its own phase; latency is
 * measured from the scheduled send time (so a stalled server is not hidden by waiting clients).
 */
export async function openLoop(
  devices: LoadDevice[],
  frameFor: (device: LoadDevice) => Uint8Array,
  periodS: number,
  seconds: number,
): Promise<LoopResult> {
  const latencies: number[] = [];
  const start = performance.now() + 100;
  const end = start + seconds * 1000;
  const periodMs = periodS * 1000;
  await Promise.all(devices.map(async (device, i) => {
    const frame = frameFor(device);
    let scheduled = start + (i / devices.length) * periodMs;
    while (scheduled < end && !device.closed) {
      const wait = scheduled - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await device.request(frame);
      latencies.push(performance.now() - scheduled);
      scheduled += periodMs;
    }
  }));
  return { requests: latencies.length, seconds, errors: 0, latencies: sorted(latencies) };
}

function sorted(values: number[]): Float64Array {
  const out = Float64Array.from(values);
  out.sort();
  return out;
}

/** The `q` quantile (0..1) of sorted latencies. */
export function quantile(latencies: Float64Array, q: number): number {
  if (latencies.length === 0) return NaN;
  return latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
}
