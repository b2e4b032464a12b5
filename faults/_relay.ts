/**
 * The lab's latency relay (this kernel has no `netem`): a TCP relay, run inside the devices'
 * namespace, that devices connect to instead of the appliance. Every chunk read from either side
 * is written to the other after `delayMs` ± `jitterMs` (uniform), never before the chunk read
 * before it on the same side: TCP hands an application its bytes in order whatever the packets
 * did, so within one connection jitter shows as uneven gaps, and across connections as replies
 * overtaking each other — the reordering a device can see.
 *
 * `deno run -A faults/_relay.ts LISTEN_HOST:PORT TARGET_HOST:PORT DELAY_MS JITTER_MS`; prints
 * `listening HOST:PORT` once it accepts, runs until killed.
 *
 * @module
 */

function address(text: string): { hostname: string; port: number } {
  const at = text.lastIndexOf(":");
  return { hostname: text.slice(0, at), port: Number(text.slice(at + 1)) };
}

/** Copies `from` to `to`, each chunk held for the delay, in order. */
async function pipe(
  from: Deno.Conn,
  to: Deno.Conn,
  delayMs: number,
  jitterMs: number,
): Promise<void> {
  let lastDue = 0;
  let writing = Promise.resolve();
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) break;
      const chunk = buffer.slice(0, n);
      const due = Math.max(lastDue, Date.now() + delayMs + (Math.random() * 2 - 1) * jitterMs);
      lastDue = due;
      writing = writing.then(async () => {
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        for (let written = 0; written < chunk.length;) {
          written += await to.write(chunk.subarray(written));
        }
      });
    }
    await writing;
    await to.closeWrite();
  } catch {
    // either side reset: the other goes too (below)
  }
}

async function relay(
  device: Deno.Conn,
  target: { hostname: string; port: number },
  delayMs: number,
  jitterMs: number,
) {
  let upstream: Deno.Conn;
  try {
    upstream = await Deno.connect({ ...target, signal: AbortSignal.timeout(10_000) });
  } catch {
    device.close();
    return;
  }
  await Promise.all([
    pipe(device, upstream, delayMs, jitterMs),
    pipe(upstream, device, delayMs, jitterMs),
  ]);
  for (const conn of [device, upstream]) {
    try {
      conn.close();
    } catch {
      // closed already
    }
  }
}

if (import.meta.main) {
  const [listenAt, targetAt, delay, jitter] = Deno.args;
  const listener = Deno.listen(address(listenAt));
  const target = address(targetAt);
  const { hostname, port } = listener.addr as Deno.NetAddr;
  console.log(`listening ${hostname}:${port}`);
  for await (const conn of listener) {
    conn.setNoDelay(true);
    relay(conn, target, Number(delay), Number(jitter));
  }
}
