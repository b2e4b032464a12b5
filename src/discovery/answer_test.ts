import assert from "node:assert/strict";
import { encodeAnswer, MAX_PROBE_BYTES, parseAnswer, parseProbe } from "./answer.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("a probe is {action: discover}, optionally with an equipId", () => {
  assert.deepEqual(parseProbe(bytes('{"action":"discover"}')), {});
  assert.deepEqual(parseProbe(bytes(' {"action":"discover","equipId":"DZBQ_0001"}\n')), {
    equipId: "DZBQ_0001",
  });
  assert.deepEqual(parseProbe(bytes('{"action":"discover","equipId":null}')), {});
});

Deno.test("anything else is not a probe", () => {
  const garbage = [
    "",
    "discover",
    "[]",
    "null",
    '"discover"',
    '{"action":"Discover"}',
    '{"action":"discoverReturn","ip":"1.2.3.4"}',
    '{"action":"discover","equipId":7}',
    `{"action":"discover","equipId":"${"X".repeat(65)}"}`,
    '{"action":"discover"',
  ];
  for (const text of garbage) assert.equal(parseProbe(bytes(text)), undefined, text);
  assert.equal(parseProbe(new Uint8Array([0xff, 0xfe, 0x7b, 0x7d])), undefined);
  const padded = `{"action":"discover","x":"${"y".repeat(MAX_PROBE_BYTES)}"}`;
  assert.equal(parseProbe(bytes(padded)), undefined);
});

Deno.test("the answer is small and reads back", () => {
  const answer = encodeAnswer({ ip: "192.168.1.10", port: 8686, shop: "shop0001" });
  assert.equal(
    new TextDecoder().decode(answer),
    '{"action":"discoverReturn","ip":"192.168.1.10","port":8686,"shop":"shop0001"}',
  );
  assert.deepEqual(parseAnswer(answer), { ip: "192.168.1.10", port: 8686, shop: "shop0001" });
  assert.equal(parseAnswer(bytes('{"action":"discover"}')), undefined);
  assert.equal(parseAnswer(bytes("junk")), undefined);
});
