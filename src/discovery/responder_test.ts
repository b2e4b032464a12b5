import assert from "node:assert/strict";
import { createMemoryLogger } from "../log.ts";
import { DiscoveryResponder } from "./responder.ts";
import { discover } from "./probe.ts";
import { MAX_PROBE_BYTES } from "./answer.ts";
import { systemClock } from "../clock.ts";

const encoder = new TextEncoder();

function responder(options: { advertiseHost?: string; ratePerMinute?: number } = {}) {
  return DiscoveryResponder.listen({
    clock: systemClock,
    hostname: "127.0.0.1",
    port: 0,
    tcpPort: 18686,
    shop: "shop0042",
    advertiseHost: options.advertiseHost ?? "",
    ratePerMinute: options.ratePerMinute ?? 100,
    log: createMemoryLogger(),
  });
}

/** Sends raw datagrams, then a valid probe, and returns every answer (datagrams are ordered on loopback). */
async function exchange(port: number, datagrams: Uint8Array[]): Promise<string[]> {
  const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const answers: string[] = [];
  try {
    for (const d of datagrams) {
      await socket.send(d, { transport: "udp", hostname: "127.0.0.1", port });
    }
    const timer = setTimeout(() => socket.close(), 500);
    try {
      for (;;) {
        const [data] = await socket.receive();
        answers.push(new TextDecoder().decode(data));
      }
    } catch {
      // closed at the deadline
    } finally {
      clearTimeout(timer);
    }
  } finally {
    try {
      socket.close();
    } catch {
      // closed at the deadline
    }
  }
  return answers;
}

Deno.test("a probe over real UDP is answered with the TCP port, shop and loopback address", async () => {
  const r = responder();
  try {
    const replies = await discover({ target: "127.0.0.1", port: r.addr.port, timeoutMs: 500 });
    assert.equal(replies.length, 1);
    assert.equal(replies[0].ip, "127.0.0.1");
    assert.equal(replies[0].port, 18686);
    assert.equal(replies[0].shop, "shop0042");
    assert.equal(replies[0].from, `127.0.0.1:${r.addr.port}`);
  } finally {
    await r.close();
  }
});

Deno.test("the configured advertiseHost wins", async () => {
  const r = responder({ advertiseHost: "shop-box.local" });
  try {
    const replies = await discover({ target: "127.0.0.1", port: r.addr.port, timeoutMs: 500 });
    assert.deepEqual(replies.map((x) => x.ip), ["shop-box.local"]);
  } finally {
    await r.close();
  }
});

Deno.test("garbage and oversize datagrams are ignored, the responder keeps answering", async () => {
  const r = responder();
  try {
    const oversize = encoder.encode(
      `{"action":"discover","pad":"${"x".repeat(MAX_PROBE_BYTES * 4)}"}`,
    );
    const answers = await exchange(r.addr.port, [
      encoder.encode("hello"),
      new Uint8Array([0xff, 0x00, 0x13]),
      encoder.encode('{"action":"login"}'),
      oversize,
      encoder.encode('{"action":"discover","equipId":"DZC_0001"}'),
    ]);
    assert.equal(answers.length, 1);
    assert.deepEqual(JSON.parse(answers[0]), {
      action: "discoverReturn",
      ip: "127.0.0.1",
      port: 18686,
      shop: "shop0042",
    });
    assert.equal(r.stats.ignored, 4);
    assert.equal(r.stats.answered, 1);
  } finally {
    await r.close();
  }
});

Deno.test("answers are rate-limited per sender", async () => {
  const r = responder({ ratePerMinute: 3 });
  try {
    const probe = encoder.encode('{"action":"discover"}');
    const answers = await exchange(r.addr.port, Array(10).fill(probe));
    assert.equal(answers.length, 3);
    assert.equal(r.stats.limited, 7);
  } finally {
    await r.close();
  }
});

Deno.test("interfaces that cannot be read: no answer, one clear log line, still running", async () => {
  const log = createMemoryLogger();
  const r = DiscoveryResponder.listen({
    clock: systemClock,
    hostname: "127.0.0.1",
    port: 0,
    tcpPort: 18686,
    shop: "shop0042",
    advertiseHost: "",
    ratePerMinute: 100,
    log,
    interfaces: () => {
      throw new Deno.errors.NotCapable('Requires sys access to "networkInterfaces"');
    },
  });
  try {
    const probe = encoder.encode('{"action":"discover"}');
    assert.deepEqual(await exchange(r.addr.port, [probe, probe, encoder.encode("junk")]), []);
    assert.equal(r.stats.ignored, 1, "the datagram after the failures was still read");
    const errors = log.lines.filter((l) => l.level === "error");
    assert.equal(errors.length, 1);
    assert.match(String(errors[0].msg), /set advertiseHost/);
  } finally {
    await r.close();
  }
});
