/**
 * `device discover [--broadcast ADDR]`: sends a UDP discovery probe the way a device does and
 * prints every appliance that answered (PROTOCOL.md §5).
 *
 * @module
 */
import { discover } from "../discovery/probe.ts";
import { CliError, parseCommandArgs } from "./_common.ts";
import { errorMessage } from "../errors.ts";

const HELP = `newretail device discover [--broadcast ADDR] [--port P] [--timeout S] [--equip ID]

Sends {"action":"discover"} to ADDR (default 255.255.255.255; a subnet's broadcast address such
as 192.168.1.255, or one host) on UDP port P (default 8686), and prints each answer:
the address and TCP port devices should connect to, and the store id. Exits 1 when nobody answered.`;

/** Runs `device discover`. */
export async function discoverCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, {
    broadcast: { type: "string" },
    port: { type: "string" },
    timeout: { type: "string" },
    equip: { type: "string" },
    help: { type: "boolean", short: "h" },
  }, false);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const port = Number(values.port ?? "8686");
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CliError(`--port must be 1..65535, got ${values.port}`, 2);
  }
  const timeoutS = Number(values.timeout ?? "2");
  if (!(timeoutS > 0)) throw new CliError(`--timeout must be seconds > 0`, 2);
  const target = values.broadcast ?? "255.255.255.255";
  let replies;
  try {
    replies = await discover({ target, port, timeoutMs: timeoutS * 1000, equipId: values.equip });
  } catch (e) {
    throw new CliError(`cannot send a probe to ${target}:${port}: ${errorMessage(e)}`);
  }
  for (const r of replies) {
    console.log(`${r.from}\tconnect to ${r.ip}:${r.port}\tshop ${r.shop}`);
  }
  console.log(`${replies.length} appliance(s) answered`);
  return replies.length > 0 ? 0 : 1;
}
