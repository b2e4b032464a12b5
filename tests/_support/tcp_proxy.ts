/**
 * A TCP proxy in front of a real service (PostgreSQL), so a test can take the service away from
 * the appliance and bring it back on the same address without touching the shared server.
 *
 * @module
 */

/** A running proxy. */
export interface TcpProxy {
  readonly port: number;
  /** Closes the listener and every proxied connection: the service looks down. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): void;
  /** Stops for good. */
  close(): Promise<void>;
}

/** Proxies `127.0.0.1:<free port>` to `target`. */
export function startTcpProxy(target: { hostname: string; port: number }): TcpProxy {
  let listener: Deno.Listener | undefined;
  let port = 0;
  const conns = new Set<Deno.Conn>();
  const pumps = new Set<Promise<void>>();
  let loop: Promise<void> | undefined;

  async function pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        let off = 0;
        while (off < n) off += await to.write(buf.subarray(off, n));
      }
    } catch {
      // either side closed
    }
    for (const c of [from, to]) {
      if (conns.delete(c)) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    }
  }

  async function accept(l: Deno.Listener): Promise<void> {
    for (;;) {
      let client: Deno.Conn;
      try {
        client = await l.accept();
      } catch {
        return;
      }
      let upstream: Deno.Conn;
      try {
        upstream = await Deno.connect(target);
      } catch {
        client.close();
        continue;
      }
      conns.add(client);
      conns.add(upstream);
      const p = Promise.all([pipe(client, upstream), pipe(upstream, client)]).then(() => {});
      pumps.add(p);
      p.finally(() => pumps.delete(p));
    }
  }

  function start(): void {
    listener = Deno.listen({ hostname: "127.0.0.1", port });
    port = (listener.addr as Deno.NetAddr).port;
    loop = accept(listener);
  }

  async function stop(): Promise<void> {
    listener?.close();
    listener = undefined;
    await loop;
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    conns.clear();
    await Promise.all([...pumps]);
  }

  start();
  return {
    get port() {
      return port;
    },
    stop,
    start,
    close: stop,
  };
}
