import { concatBytes } from "../bytes.ts";
import assert from "node:assert/strict";
import {
  type ByteOrder,
  DEFAULT_FRAME_LIMITS,
  detectByteOrder,
  encodeFrame,
  type Frame,
  FrameDecoder,
  ProtocolError,
  type ProtocolErrorReason,
} from "./frame.ts";
import { encodeBody } from "./body.ts";

const utf8 = new TextEncoder();

function sampleFrames(order: ByteOrder): Uint8Array[] {
  return [
    encodeFrame({ action: "login", equipId: "DZBQ_0001" }, new Uint8Array(), order),
    encodeFrame({ action: "getGoods", uniqueId: "DZBQ_0001" }, encodeBody({ code: "6901" }), order),
    encodeFrame(
      { action: "getGoodsReturn", uniqueId: "DZBQ_0001" },
      encodeBody({ exception: "", goods: [{ name: "红富士苹果" }] }, "gbk"),
      order,
    ),
  ];
}

function summary(frames: Frame[]) {
  return frames.map((f) => ({ action: f.header.action, body: Array.from(f.body) }));
}

function rawFrame(headerText: string, body = new Uint8Array(), order: ByteOrder = "le") {
  const header = utf8.encode(headerText);
  const out = new Uint8Array(4 + header.byteLength + body.byteLength);
  new DataView(out.buffer).setInt32(0, header.byteLength, order === "le");
  out.set(header, 4);
  out.set(body, 4 + header.byteLength);
  return out;
}

function assertProtocolError(fn: () => unknown, reason: ProtocolErrorReason) {
  assert.throws(fn, (e) => e instanceof ProtocolError && e.reason === reason);
}

Deno.test("encodeFrame writes a little-endian header length, the JSON header and the body", () => {
  const bytes = encodeFrame({ action: "health" }, new Uint8Array([1, 2]), "le");
  const header = '{"action":"health","length":2}';
  assert.deepEqual(Array.from(bytes.subarray(0, 4)), [header.length, 0, 0, 0]);
  assert.equal(new TextDecoder().decode(bytes.subarray(4, 4 + header.length)), header);
  assert.deepEqual(Array.from(bytes.subarray(4 + header.length)), [1, 2]);
});

Deno.test("encodeFrame writes big-endian lengths when asked", () => {
  const bytes = encodeFrame({ action: "health" }, new Uint8Array(), "be");
  assert.deepEqual(Array.from(bytes.subarray(0, 4)), [0, 0, 0, 30]);
});

for (const order of ["le", "be"] as const) {
  Deno.test(`decoder (${order}) yields the same frames for every split point of a stream`, () => {
    const stream = concatBytes(sampleFrames(order));
    const whole = new FrameDecoder({ byteOrder: order }).push(stream);
    assert.equal(whole.length, 3);
    for (let cut = 0; cut <= stream.byteLength; cut++) {
      const decoder = new FrameDecoder({ byteOrder: order });
      const frames = [
        ...decoder.push(stream.subarray(0, cut)),
        ...decoder.push(stream.subarray(cut)),
      ];
      assert.deepEqual(summary(frames), summary(whole), `split at ${cut}`);
      assert.equal(decoder.bufferedBytes, 0);
    }
  });

  Deno.test(`decoder (${order}) handles one byte at a time and two cuts anywhere`, () => {
    const stream = concatBytes(sampleFrames(order));
    const expected = summary(new FrameDecoder({ byteOrder: order }).push(stream));
    const decoder = new FrameDecoder({ byteOrder: order });
    const frames: Frame[] = [];
    for (const byte of stream) frames.push(...decoder.push(new Uint8Array([byte])));
    assert.deepEqual(summary(frames), expected);
    for (let a = 0; a < stream.byteLength; a += 7) {
      for (let b = a; b <= stream.byteLength; b += 5) {
        const d = new FrameDecoder({ byteOrder: order });
        const got = [
          ...d.push(stream.subarray(0, a)),
          ...d.push(stream.subarray(a, b)),
          ...d.push(stream.subarray(b)),
        ];
        assert.deepEqual(summary(got), expected, `cuts ${a},${b}`);
      }
    }
  });

  Deno.test(`auto byte order detects ${order} from the first frame and keeps it`, () => {
    const decoder = new FrameDecoder({ byteOrder: "auto" });
    assert.equal(decoder.byteOrder, undefined);
    const frames = decoder.push(concatBytes(sampleFrames(order)));
    assert.equal(frames.length, 3);
    assert.equal(decoder.byteOrder, order);
  });
}

Deno.test("several frames in one chunk plus a partial one", () => {
  const [a, b, c] = sampleFrames("le");
  const decoder = new FrameDecoder();
  const frames = decoder.push(concatBytes([a, b, c.subarray(0, 10)]));
  assert.deepEqual(frames.map((f) => f.header.action), ["login", "getGoods"]);
  assert.equal(decoder.bufferedBytes, 10);
  assert.deepEqual(decoder.push(c.subarray(10)).map((f) => f.header.action), ["getGoodsReturn"]);
});

Deno.test("a fixed byte order refuses the other order's frames as out-of-range lengths", () => {
  const be = encodeFrame({ action: "login" }, new Uint8Array(), "be");
  assertProtocolError(
    () => new FrameDecoder({ byteOrder: "le" }).push(be),
    "header_length_out_of_range",
  );
});

Deno.test("detectByteOrder prefers little-endian when both orders are plausible", () => {
  // 00 01 00 00 reads 256 (le) and 65536 (be): both within the default limits.
  assert.equal(detectByteOrder(new Uint8Array([0, 1, 0, 0])), "le");
  assert.equal(detectByteOrder(new Uint8Array([0, 0, 0, 40])), "be");
  assert.equal(detectByteOrder(new Uint8Array([255, 255, 255, 255])), undefined);
});

Deno.test("protocol errors carry a reason", async (t) => {
  const cases: [string, Uint8Array, ProtocolErrorReason][] = [
    [
      "negative header length",
      new Uint8Array([0xff, 0xff, 0xff, 0xff]),
      "header_length_out_of_range",
    ],
    ["header length 1", rawFrame("{"), "header_length_out_of_range"],
    ["absurd header length", new Uint8Array([0, 0, 0, 0x7f]), "header_length_out_of_range"],
    [
      "header just over the limit",
      (() => {
        const b = new Uint8Array(4);
        new DataView(b.buffer).setInt32(0, DEFAULT_FRAME_LIMITS.maxHeaderBytes + 1, true);
        return b;
      })(),
      "header_length_out_of_range",
    ],
    ["non-JSON header", rawFrame("hello world"), "header_not_json"],
    [
      "non-UTF-8 header",
      (() => {
        const f = rawFrame('{"action":"x" }');
        f[4 + 12] = 0xff;
        return f;
      })(),
      "header_not_utf8",
    ],
    ["array header", rawFrame('["login"]'), "header_not_object"],
    ["null header", rawFrame("null"), "header_not_object"],
    ["missing action", rawFrame('{"length":0}'), "missing_action"],
    ["empty action", rawFrame('{"action":"","length":0}'), "missing_action"],
    ["numeric action", rawFrame('{"action":5,"length":0}'), "missing_action"],
    ["missing length", rawFrame('{"action":"login"}'), "bad_length"],
    ["string length", rawFrame('{"action":"login","length":"2"}'), "bad_length"],
    ["negative length", rawFrame('{"action":"login","length":-1}'), "bad_length"],
    ["fractional length", rawFrame('{"action":"login","length":1.5}'), "bad_length"],
    ["2 GB body", rawFrame('{"action":"login","length":2147483648}'), "body_too_large"],
    [
      "body one byte over",
      rawFrame(`{"action":"login","length":${1024 * 1024 + 1}}`),
      "body_too_large",
    ],
  ];
  for (const [name, bytes, reason] of cases) {
    await t.step(name, () => assertProtocolError(() => new FrameDecoder().push(bytes), reason));
  }
});

Deno.test("a body at exactly the limit is accepted, and limits are configurable", () => {
  const limits = { minHeaderBytes: 2, maxHeaderBytes: 100, maxBodyBytes: 3 };
  const ok = encodeFrame({ action: "x" }, new Uint8Array([1, 2, 3]), "le");
  assert.equal(new FrameDecoder({ limits }).push(ok).length, 1);
  const tooBig = encodeFrame({ action: "x" }, new Uint8Array([1, 2, 3, 4]), "le");
  assertProtocolError(() => new FrameDecoder({ limits }).push(tooBig), "body_too_large");
  const longHeader = encodeFrame({ action: "x".repeat(100) }, new Uint8Array(), "le");
  assertProtocolError(
    () => new FrameDecoder({ limits }).push(longHeader),
    "header_length_out_of_range",
  );
});

Deno.test("the error is raised at the header, before a huge body arrives", () => {
  const decoder = new FrameDecoder();
  const frame = rawFrame('{"action":"login","length":2000000000}');
  assertProtocolError(() => decoder.push(frame), "body_too_large");
});

Deno.test("an idle decoder gives back the memory of a large frame", () => {
  const decoder = new FrameDecoder();
  const big = encodeFrame({ action: "x" }, new Uint8Array(500_000), "le");
  assert.equal(decoder.push(big).length, 1);
  assert.equal(decoder.bufferedBytes, 0);
});

Deno.test("decode returns the frames before a bad one with the error, however the stream is cut", () => {
  const [a, b] = sampleFrames("le");
  const bad = rawFrame('{"action":"login","length":-1}');
  const stream = concatBytes([a, b, bad, a]);
  for (let cut = 0; cut <= stream.byteLength; cut++) {
    const decoder = new FrameDecoder();
    const first = decoder.decode(stream.subarray(0, cut));
    const second = decoder.decode(stream.subarray(cut));
    const error = first.error ?? second.error;
    assert.equal(error?.reason, "bad_length", `cut ${cut}`);
    assert.deepEqual(
      summary([...first.frames, ...second.frames]),
      summary(new FrameDecoder().push(concatBytes([a, b]))),
      `cut ${cut}`,
    );
  }
});

Deno.test("after an error nothing more is decoded, and push throws it", () => {
  const [a] = sampleFrames("le");
  const decoder = new FrameDecoder();
  const { frames, error } = decoder.decode(concatBytes([a, rawFrame("[1]")]));
  assert.equal(frames.length, 1);
  assert.equal(error?.reason, "header_not_object");
  assert.equal(decoder.error, error);
  assert.deepEqual(decoder.decode(a), { frames: [], error });
  assertProtocolError(() => decoder.push(a), "header_not_object");
  assertProtocolError(
    () => new FrameDecoder().push(concatBytes([a, rawFrame("[1]")])),
    "header_not_object",
  );
});
