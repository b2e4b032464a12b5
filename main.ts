/**
 * newretail: the store appliance's command line. `serve` is what `deno task start` and systemd
 * run; the other commands are for installers and operators.
 *
 * @module
 */
import { describeFailure, unexpectedFailure } from "./src/cli/failure.ts";
import { serveCommand } from "./src/cli/serve.ts";
import { migrateCommand, seedDemoCommand } from "./src/cli/migrate.ts";
import { deviceCommand } from "./src/cli/device.ts";
import { devicesCommand } from "./src/cli/devices.ts";
import { checkConfigCommand } from "./src/cli/check_config.ts";
import { odooCommand } from "./src/cli/odoo.ts";
import { outboxCommand } from "./src/cli/outbox.ts";
import { bindingsCommand } from "./src/cli/bindings.ts";
import { pushGoodsCommand, refillCommand } from "./src/cli/push.ts";
import { positionsCommand } from "./src/cli/positions.ts";
import { permissionsCommand } from "./src/cli/permissions.ts";
import { backupCommand, restoreCommand } from "./src/cli/backup.ts";
import { rollbackCommand } from "./src/cli/rollback.ts";
import { stockCommand } from "./src/cli/stock.ts";
import { VERSION } from "./src/version.ts";
import { pricesCommand } from "./src/cli/prices.ts";
import { labelsCommand } from "./src/cli/labels.ts";
import { fleetCommand } from "./src/cli/fleet.ts";

/** Command name → runner (resolves with the exit code). */
export const COMMANDS: Record<string, { run(args: string[]): Promise<number>; summary: string }> = {
  serve: { run: serveCommand, summary: "run the appliance (default)" },
  migrate: { run: migrateCommand, summary: "apply database migrations" },
  "seed-demo": { run: seedDemoCommand, summary: "load the demo catalogue" },
  devices: { run: devicesCommand, summary: "list, enable or disable devices" },
  device: { run: deviceCommand, summary: "act as a device: log in, send one request" },
  "push-goods": { run: pushGoodsCommand, summary: "push goods to shelf labels and scales again" },
  positions: { run: positionsCommand, summary: "list or set goods positions for the AGVs" },
  refill: { run: refillCommand, summary: "send an AGV to refill a goods' shelf place" },
  stock: { run: stockCommand, summary: "stock per warehouse, its moves, inventory counts" },
  "check-config": { run: checkConfigCommand, summary: "validate and print the configuration" },
  odoo: { run: odooCommand, summary: "Odoo upstream: check the connection, pull the catalogue" },
  outbox: { run: outboxCommand, summary: "deliveries owed to Odoo: list, retry" },
  bindings: { run: bindingsCommand, summary: "import shelf-label bindings and RFID tags (CSV)" },
  backup: { run: backupCommand, summary: "back up the database to a file (also while serving)" },
  restore: { run: restoreCommand, summary: "replace the database with a backup (service stopped)" },
  rollback: { run: rollbackCommand, summary: "return to the release before the last upgrade" },
  prices: {
    run: pricesCommand,
    summary: "scheduled prices and promotions: schedule, list, cancel",
  },
  labels: {
    run: labelsCommand,
    summary: "shelf labels: what each shows against the current price",
  },
  fleet: {
    run: fleetCommand,
    summary: "every store of the chain, from the statuses on the chain's MQTT broker",
  },
  permissions: {
    run: permissionsCommand,
    summary: "print the Deno permission flags serve needs with this configuration",
  },
};

const USAGE = `newretail — edge appliance for self-service stores

Usage: newretail [COMMAND] [options]   (--help on any command; --version)

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(14)}${c.summary}`).join("\n")}`;

/** Runs the command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [first, ...rest] = args;
  if (first === "--help" || first === "-h" || first === "help") {
    console.log(USAGE);
    return 0;
  }
  if (first === "--version" || first === "-V" || first === "version") {
    console.log(`newretail ${VERSION}`);
    return 0;
  }
  const name = first === undefined || first.startsWith("-") ? "serve" : first;
  const command = COMMANDS[name];
  if (!command || !Object.hasOwn(COMMANDS, name)) {
    console.error(`unknown command: ${name}\n\n${USAGE}`);
    return 2;
  }
  try {
    return await command.run(first === name ? rest : args);
  } catch (e) {
    const failure = describeFailure(e);
    // Every failure is one line: an operator gets the message, never a stack trace.
    console.error(failure?.line ?? unexpectedFailure(name, e));
    return failure?.code ?? 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
