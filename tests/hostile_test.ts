/**
 * Hostile peers over real TCP (issue 6): a thousand connections that never log in, slowloris, a
 * 2 GB body, a peer that never reads, half-open connections. Each must be ended by a bounded
 * timeout or limit, logged, and counted in the metrics, while a normal device keeps being served.
 * On the first available backend (PostgreSQL in CI).
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { eventually, startTestAppliance, type TestAppliance } from "./_support/appliance.ts";
import { encodeFrame, FrameDecoder } from "../src/protocol/frame.ts";
import { getDevice } from "../src/store/devices.ts";

const backend = backends()[0].name;
const encoder = new TextEncoder();

/** The value of one series in the appliance's `/metrics` text (0 when absent). */
function metric(appliance: TestAppliance, name: string, labels = ""): number {
  const text = appliance.app.metrics.render();
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

function disconnects(appliance: TestAppliance, reason: string): number {
  return metric(appliance, "newretail_disconnects_total", `{reason="${reason}"}`);
}

function frame(action: string, body: string, header: Record<string, unknown> = {}): Uint8Array {
  return encodeFrame({ action, ...header }, encoder.encode(body), "le");
}

/** Resolves when the server has closed `conn` (EOF or reset); rejects after `timeoutMs`. */
async function closedByServer(conn: Deno.Conn, timeoutMs = 10_000): Promise<void> {
  const buffer = new Uint8Array(4096);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error("the server did not close the connection")),
      timeoutMs,
    );
  });
  const reading = (async () => {
    try {
      while ((await conn.read(buffer)) !== null) {
        // replies are not what this waits for
      }
    } catch {
      // reset: closed as well
    }
  })();
  try {
    await Promise.race([reading, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function servedNormally(appliance: TestAppliance, equipId: string): Promise<void> {
  const device = await appliance.device(equipId);
  const reply = await device.request("getGoods", { gid: 1 });
  assertEquals(reply.json?.exception, "");
  assertEquals((reply.json?.goods as unknown[]).length, 1);
  await device.close();
}

async function fdLimit(): Promise<number> {
  const out = await new Deno.Command("sh", { args: ["-c", "ulimit -n"], stdout: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  return text === "unlimited" ? Infinity : Number(text);
}

Deno.test(`1,000 connections that never log in are closed by the login timeout (${backend})`, async () => {
  // Both ends live in this process: 2,000 descriptors and some spare.
  const limit = await fdLimit();
  assert(
    limit >= 2_500,
    `ulimit -n is ${limit}; this test needs 2,500 (raise it, e.g. ulimit -n 4096)`,
  );
  const appliance = await startTestAppliance(backend, { config: { loginTimeoutS: 1 } });
  const conns: Deno.TcpConn[] = [];
  try {
    const normal = await appliance.device("POS_1101");
    // In batches: the listen backlog is finite and a dropped SYN costs a second of retry.
    for (let batch = 0; batch < 10; batch++) {
      conns.push(
        ...await Promise.all(
          Array.from(
            { length: 100 },
            () => Deno.connect({ hostname: "127.0.0.1", port: appliance.port }),
          ),
        ),
      );
    }
    await eventually(
      () => appliance.app.server.connectionCount >= 1001,
      "all are accepted",
      20_000,
    );
    await Promise.all(conns.map((c) => closedByServer(c, 30_000)));
    assertEquals(disconnects(appliance, "login_timeout"), 1000);
    assertEquals(
      appliance.logs.filter((l) => l.msg === "disconnected" && l.reason === "login_timeout").length,
      1000,
    );
    assertEquals(appliance.app.server.connectionCount, 1, "only the normal device is left");
    const reply = await normal.request("getGoods", { gid: 1 });
    assertEquals(reply.json?.exception, "", "the logged-in device was not affected");
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // closed already
      }
    }
    await appliance.stop();
  }
});

Deno.test(`slowloris: a trickled frame is bounded by the frame timeout, before login by the login timeout (${backend})`, async () => {
  const appliance = await startTestAppliance(backend, {
    config: { frameTimeoutS: 1.5, loginTimeoutS: 1, heartbeatIntervalS: 60 },
  });
  const conns: Deno.Conn[] = [];
  const stop = { trickling: true };
  const trickle = async (conn: Deno.Conn, bytes: Uint8Array, everyMs: number) => {
    for (let i = 0; i < bytes.byteLength && stop.trickling; i++) {
      try {
        await conn.write(bytes.subarray(i, i + 1));
      } catch {
        return; // closed by the server
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  };
  try {
    // Logged in, then one byte every 200 ms of a frame that would take minutes.
    const loggedIn = await Deno.connect({ hostname: "127.0.0.1", port: appliance.port });
    conns.push(loggedIn);
    await loggedIn.write(frame("login", "", { equipId: "POS_1201" }));
    const big = frame("getGoods", JSON.stringify({ gname: "x".repeat(2000) }), {
      uniqueId: "POS_1201",
    });
    const trickled = trickle(loggedIn, big, 200);
    await closedByServer(loggedIn);
    assertEquals(disconnects(appliance, "frame_timeout"), 1);
    assert(appliance.logs.some((l) => l.msg === "frame not completed in time, closing connection"));
    await trickled;

    // Never logged in: trickling the login frame itself ends at the login timeout.
    const anonymous = await Deno.connect({ hostname: "127.0.0.1", port: appliance.port });
    conns.push(anonymous);
    const trickledLogin = trickle(anonymous, frame("login", "", { equipId: "POS_1202" }), 200);
    await closedByServer(anonymous);
    assertEquals(disconnects(appliance, "login_timeout"), 1);
    await trickledLogin;

    // A slow but finishing device is not a slowloris: its frame completes well within the timeout.
    const slow = await appliance.device("POS_1203");
    const request = frame("getGoods", JSON.stringify({ gid: 2 }), { uniqueId: "POS_1203" });
    const reply = slow.waitFor(
      (f) => f.header.action === "getGoodsReturn",
      "getGoodsReturn",
      10_000,
    );
    for (let i = 0; i < request.byteLength; i++) {
      slow.sendRaw(request.subarray(i, i + 1));
      await new Promise((r) => setTimeout(r, 5));
    }
    assertEquals((await reply).json?.exception, "");
    assertEquals(disconnects(appliance, "frame_timeout"), 1);
    await servedNormally(appliance, "POS_1204");
  } finally {
    stop.trickling = false;
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // closed already
      }
    }
    await appliance.stop();
  }
});

Deno.test(`a peer announcing a 2 GB body is closed at the header (${backend})`, async () => {
  const appliance = await startTestAppliance(backend);
  try {
    const cases: { bytes: Uint8Array; reason: string }[] = [
      // A body of 2 GB announced in the header.
      {
        bytes: (() => {
          const header = encoder.encode('{"action":"getGoods","uniqueId":"x","length":2147483648}');
          const out = new Uint8Array(4 + header.byteLength);
          new DataView(out.buffer).setInt32(0, header.byteLength, true);
          out.set(header, 4);
          return out;
        })(),
        reason: "body_too_large",
      },
      // A header of 2 GB announced in the length prefix.
      { bytes: new Uint8Array([0xff, 0xff, 0xff, 0x7f]), reason: "header_length_out_of_range" },
      // A negative header length.
      { bytes: new Uint8Array([0x00, 0x00, 0x00, 0x80]), reason: "header_length_out_of_range" },
    ];
    for (const { bytes } of cases) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: appliance.port });
      try {
        await conn.write(bytes);
        // Nothing more is sent: the server must decide from the header alone.
        await closedByServer(conn);
      } finally {
        conn.close();
      }
    }
    assertEquals(
      metric(appliance, "newretail_protocol_errors_total", '{reason="body_too_large"}'),
      1,
    );
    assertEquals(
      metric(appliance, "newretail_protocol_errors_total", '{reason="header_length_out_of_range"}'),
      2,
    );
    assertEquals(disconnects(appliance, "protocol_error"), 3);
    const logged = appliance.logs.filter((l) => l.msg === "protocol error, closing connection");
    assertEquals(logged.map((l) => l.reason), cases.map((c) => c.reason));
    assert(logged.every((l) => typeof l.peer === "string" && l.peer.startsWith("127.0.0.1:")));
    await servedNormally(appliance, "POS_1301");
  } finally {
    await appliance.stop();
  }
});

Deno.test(`peers that never read their replies are dropped at the write queue cap (${backend})`, async () => {
  const appliance = await startTestAppliance(backend, { config: { writeQueueBytes: 64 * 1024 } });
  const conns: Deno.Conn[] = [];
  try {
    const normal = await appliance.device("POS_1401");
    const flood = async (equipId: string) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: appliance.port });
      conns.push(conn);
      const request = frame("getAllGoods", '{"lmt":1000}', { uniqueId: equipId });
      try {
        await conn.write(frame("login", "", { equipId }));
        // Each reply is the whole demo catalogue; nothing is read here.
        for (let i = 0; i < 20_000; i++) await conn.write(request);
      } catch {
        // dropped by the server while writing
      }
    };
    await Promise.all([flood("POS_1402"), flood("POS_1403"), flood("POS_1404")]);
    await eventually(
      () => disconnects(appliance, "write_queue_full") === 3,
      "all three dropped",
      20_000,
    );
    assertEquals(
      appliance.logs.filter((l) => l.msg === "write queue full, dropping connection").length,
      3,
    );
    assert(
      appliance.logs.filter((l) => l.msg === "write queue full, dropping connection")
        .every((l) => (l.queuedBytes as number) <= 64 * 1024),
      "the queue never went past its cap",
    );
    assertEquals((await normal.request("getGoods", { gid: 1 })).json?.exception, "");
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // closed already
      }
    }
    await appliance.stop();
  }
});

Deno.test(`half-open peers: heartbeats close logged-in ones, the login timeout the others (${backend})`, async () => {
  const appliance = await startTestAppliance(backend, {
    config: { heartbeatIntervalS: 0.3, heartbeatMisses: 2, loginTimeoutS: 1 },
  });
  const conns: Deno.Conn[] = [];
  try {
    const alive = await appliance.device("DZBQ_1501");
    // A peer that vanished without FIN looks, from the server, like one that neither sends nor
    // reads: the kernel accepts the server's writes into its buffers and nothing comes back.
    const vanished = await Deno.connect({ hostname: "127.0.0.1", port: appliance.port });
    conns.push(vanished);
    await vanished.write(frame("login", "", { equipId: "DZBQ_1502" }));
    await eventually(
      async () => (await getDevice(appliance.app.db, "DZBQ_1502"))?.online === true,
      "the device is online",
    );
    const vanishedEarly = await Deno.connect({ hostname: "127.0.0.1", port: appliance.port });
    conns.push(vanishedEarly);
    await vanishedEarly.write(new Uint8Array([0x30, 0x00])); // half a length prefix, then nothing

    await eventually(
      () => disconnects(appliance, "heartbeat_timeout") === 1,
      "heartbeats close it",
      10_000,
    );
    await eventually(
      () => disconnects(appliance, "login_timeout") === 1,
      "login timeout closes it",
      10_000,
    );
    assert(
      appliance.logs.some((l) =>
        l.msg === "no healthReturn, closing connection" && l.equipId === "DZBQ_1502"
      ),
    );
    await eventually(
      async () => (await getDevice(appliance.app.db, "DZBQ_1502"))?.online === false,
      "the vanished device is marked offline",
    );
    assert(alive.heartbeatsReceived >= 2, "the live device got heartbeats all along");
    assertEquals((await alive.request("getGoods", { gid: 1 })).json?.exception, "");
    assertEquals(disconnects(appliance, "heartbeat_timeout"), 1, "the answering device stays");
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // closed already
      }
    }
    await appliance.stop();
  }
});

Deno.test(`a peer that half-closes after its requests still gets its replies (${backend})`, async () => {
  const appliance = await startTestAppliance(backend);
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: appliance.port });
    try {
      await conn.write(frame("login", "", { equipId: "POS_1601" }));
      await conn.write(frame("getGoods", '{"gid":1}', { uniqueId: "POS_1601" }));
      await conn.closeWrite(); // as `printf … | nc` does
      const decoder = new FrameDecoder();
      const buffer = new Uint8Array(16 * 1024);
      const actions: string[] = [];
      for (let n; (n = await conn.read(buffer)) !== null;) {
        for (const f of decoder.push(buffer.subarray(0, n))) actions.push(f.header.action);
      }
      assertEquals(actions, ["loginReturn", "getGoodsReturn"]);
    } finally {
      conn.close();
    }
    assertEquals(disconnects(appliance, "peer_closed"), 1);
  } finally {
    await appliance.stop();
  }
});
