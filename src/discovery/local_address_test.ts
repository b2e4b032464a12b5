import assert from "node:assert/strict";
import { type InterfaceAddress, localAddressFor } from "./local_address.ts";

const interfaces: InterfaceAddress[] = [
  { family: "IPv4", address: "127.0.0.1", netmask: "255.0.0.0" },
  { family: "IPv6", address: "fd00::2", netmask: "ffff:ffff:ffff:ffff::" },
  { family: "IPv4", address: "10.20.0.5", netmask: "255.255.0.0" },
  { family: "IPv4", address: "192.168.1.10", netmask: "255.255.255.0" },
];

Deno.test("the local address on the sender's subnet", () => {
  assert.equal(localAddressFor("192.168.1.77", interfaces), "192.168.1.10");
  assert.equal(localAddressFor("10.20.200.1", interfaces), "10.20.0.5");
  assert.equal(localAddressFor("::ffff:192.168.1.77", interfaces), "192.168.1.10");
  assert.equal(localAddressFor("127.0.0.1", interfaces), "127.0.0.1");
});

Deno.test("a sender on no local subnet gets the first non-loopback address", () => {
  assert.equal(localAddressFor("172.16.0.9", interfaces), "10.20.0.5");
  assert.equal(localAddressFor("fe80::1", interfaces), "10.20.0.5");
  assert.equal(localAddressFor("172.16.0.9", interfaces.slice(0, 2)), undefined);
});

Deno.test("addresses with the high bit set compare unsigned", () => {
  const high = [{ family: "IPv4" as const, address: "200.1.2.3", netmask: "255.255.255.0" }];
  assert.equal(localAddressFor("200.1.2.99", high), "200.1.2.3");
});
