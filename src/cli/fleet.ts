/**
 * `fleet [--broker URL] [--wait SECONDS] [--json]`: every store of the chain as its retained status
 * on the chain's broker shows it (state, version, uptime, devices, stale labels, alerts, outbox,
 * last Odoo sync). Head office runs it anywhere that reaches the broker; no database is opened.
 *
 * @module
 */
import { CliError, CONFIG_FLAGS_HELP, loadCliConfig, parseStoreCommand } from "./_common.ts";
import { fleetCounts, fleetTable, isSilent, readFleet } from "../fleet/fleet_view.ts";
import { errorMessage } from "../errors.ts";

const HELP = `newretail fleet [--broker URL] [--wait SECONDS] [--json] [--exit-offline]

Lists every store whose status is retained on the chain's MQTT broker (chainMqttUrl, or --broker),
read from the topic chainStatusTopic with {shop} as a wildcard. A store whose appliance died shows
"offline (connection lost)": its last-will, published by the broker within 1.5 times the
keep-alive. A store that says it is up but has not published for 2.5 times chainStatusIntervalS
is marked "(silent)": its regional broker or bridge may be down. --json prints the messages as an
array; --exit-offline exits 1 when a store is offline.

  --broker URL          the chain's broker (default chainMqttUrl)
  --wait SECONDS        longest wait for the retained messages (default 3)
  --json                one JSON array instead of the table
  --exit-offline        exit code 1 when any store is offline
${CONFIG_FLAGS_HELP}`;

const FLAGS = {
  broker: { type: "string" },
  wait: { type: "string" },
  json: { type: "boolean" },
  "exit-offline": { type: "boolean" },
} as const;

/** Runs `fleet`. */
export async function fleetCommand(args: string[]): Promise<number> {
  const { values, exit } = parseStoreCommand(args, HELP, FLAGS, "none");
  if (exit !== undefined) return exit;
  const { config } = loadCliConfig(values);
  const url = values.broker ?? config.chainMqttUrl;
  if (!url) {
    throw new CliError(
      "no chain broker: set chainMqttUrl (NEWRETAIL_CHAIN_MQTT_URL) or pass --broker URL",
      2,
    );
  }
  const waitText = values.wait ?? "3";
  if (!/^\d{1,4}(\.\d+)?$/.test(waitText)) throw new CliError("--wait must be seconds", 2);
  let fleet;
  try {
    fleet = await readFleet({
      url,
      topic: config.chainStatusTopic,
      caFile: config.chainMqttCaFile || undefined,
      waitMs: Number(waitText) * 1000,
    });
  } catch (e) {
    throw new CliError(`cannot read the fleet from the broker: ${errorMessage(e)}`);
  }
  const stores = [...fleet.stores.values()].sort((a, b) => a.shop.localeCompare(b.shop));
  if (values.json) console.log(JSON.stringify(stores, null, 2));
  else {
    const counts = fleetCounts(stores);
    // A store publishes at least every chainStatusIntervalS: two and a half missed is silence.
    const silentAfterMs = config.chainStatusIntervalS * 2500;
    const now = Date.now();
    const silent = stores.filter((s) => isSilent(s, now, silentAfterMs)).length;
    console.log(fleetTable(stores, now, silentAfterMs));
    console.log(
      `${stores.length} stores: ${counts.online} online, ${counts.degraded} degraded, ` +
        `${counts.offline} offline` + (silent ? ` (${silent} silent)` : ""),
    );
    for (const i of fleet.ignored) console.error(`ignored ${i.topic}: ${i.reason}`);
  }
  return values["exit-offline"] && stores.some((s) => s.state === "offline") ? 1 : 0;
}
