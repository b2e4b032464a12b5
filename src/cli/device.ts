/**
 * `device`: a device simulator for installers on site. Logs in, sends one request, prints the
 * decoded reply, exits non-zero on a refusal, an `exception` or a timeout.
 *
 * @module
 */
import { DeviceClient } from "../device/client.ts";
import type { JsonObject } from "../protocol/body.ts";
import { CliError, parseCommandArgs } from "./_common.ts";
import { discoverCommand } from "./discover.ts";
import { errorMessage } from "../errors.ts";

const HELP =
  `newretail device [--host H] [--port P] --equip ID [--be] [--timeout S] ACTION [key=value | key:=json …]

Connects like a store device, logs in as ID, sends ACTION with a body built from the pairs and
prints the reply. key=value sends text; key:=json sends a JSON value (number, list, object).

Examples:
  newretail device discover --broadcast 192.168.1.255   (who answers UDP discovery)
  newretail device --equip DZBQ_0001 getGoods code=6901234500011
  newretail device --equip DZBQ_0001 getGoods mac_id=AC:23:3F:00:00:01   (reply in GBK)
  newretail device --equip DZC_0001 getAllGoods ost:=0 lmt:=5
  newretail device --equip POS_0001 stockGoods whid:=1 ref=PO-1 'goods:=[{"gid":1,"qty":5}]'`;

/** Builds a request body from `key=value` / `key:=json` pairs. */
export function bodyFromPairs(pairs: string[]): JsonObject {
  const body: JsonObject = {};
  for (const pair of pairs) {
    const json = pair.indexOf(":=");
    const eq = pair.indexOf("=");
    if (json > 0 && json < eq) {
      const key = pair.slice(0, json);
      try {
        body[key] = JSON.parse(pair.slice(json + 2));
      } catch {
        throw new CliError(`${key}: not JSON: ${pair.slice(json + 2)}`, 2);
      }
    } else if (eq > 0) {
      body[pair.slice(0, eq)] = pair.slice(eq + 1);
    } else {
      throw new CliError(`expected key=value or key:=json, got ${pair}`, 2);
    }
  }
  return body;
}

/** Runs `device`. */
export async function deviceCommand(args: string[]): Promise<number> {
  if (args[0] === "discover") return await discoverCommand(args.slice(1));
  const { values, positionals } = parseCommandArgs(args, {
    host: { type: "string" },
    port: { type: "string" },
    equip: { type: "string" },
    be: { type: "boolean" },
    timeout: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const [action, ...pairs] = positionals;
  if (!action) throw new CliError(`an ACTION is needed\n\n${HELP}`, 2);
  if (!values.equip) throw new CliError("--equip ID is needed (e.g. --equip DZBQ_0001)", 2);
  const port = Number(values.port ?? "8686");
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CliError(`--port must be 1..65535, got ${values.port}`, 2);
  }
  const timeoutS = Number(values.timeout ?? "10");
  if (!(timeoutS > 0)) {
    throw new CliError(`--timeout must be seconds > 0, got ${values.timeout}`, 2);
  }
  const body = bodyFromPairs(pairs);
  const host = values.host ?? "127.0.0.1";

  let client: DeviceClient;
  try {
    client = await DeviceClient.login({
      host,
      port,
      equipId: values.equip,
      byteOrder: values.be ? "be" : "le",
      timeoutMs: timeoutS * 1000,
    });
  } catch (e) {
    throw new CliError(`cannot log in to ${host}:${port}: ${errorMessage(e)}`);
  }
  try {
    // Shelf labels get getGoods-by-MAC replies in GBK (PROTOCOL.md §1).
    const encoding = action === "getGoods" && body.mac_id !== undefined ? "gbk" : "utf8";
    const reply = await client.request(action, body, { encoding });
    console.log(JSON.stringify({ action: reply.header.action, uniqueId: reply.header.uniqueId }));
    console.log(JSON.stringify(reply.json, null, 2));
    const exception = reply.json?.exception;
    return typeof exception === "string" && exception !== "" ? 1 : 0;
  } catch (e) {
    throw new CliError(`${action}: ${errorMessage(e)}`);
  } finally {
    await client.close();
  }
}
