/**
 * `positions list | set`: where goods are kept and refilled, for the AGVs (getPosition,
 * sendPosition) and the refill thresholds.
 *
 * @module
 */
import {
  listPositions,
  type Place,
  type PositionChange,
  positionChange,
  type PositionListing,
  setPosition,
} from "../store/positions.ts";
import { UserError } from "../errors.ts";
import { CliError, CONFIG_FLAGS_HELP, loadCliConfig, parseStoreCommand } from "./_common.ts";
import { withStoreOrApi } from "./_admin_api.ts";

const HELP = `newretail positions list
newretail positions set --gid N --stock AISLE,SHELF,HEIGHT --shelf AISLE,SHELF,HEIGHT
                        [--refill-below QTY | --refill-below default]
                        [--capacity QTY | --capacity default]

Lists goods positions, or sets one: --stock is where the goods' stock is kept, --shelf the shelf
place an AGV refills. --refill-below opens a refill job by itself when the shelf quantity falls
below QTY ("default": the configured refillThreshold). --capacity is what the shelf place
holds: a refill fills it up to that ("default": the configured refillTarget, else twice the
threshold).

${CONFIG_FLAGS_HELP}`;

/** Runs `positions`. */
export async function positionsCommand(args: string[]): Promise<number> {
  const { values, positionals, exit } = parseStoreCommand(args, HELP, {
    gid: { type: "string" },
    stock: { type: "string" },
    shelf: { type: "string" },
    "refill-below": { type: "string" },
    capacity: { type: "string" },
  });
  if (exit !== undefined) return exit;
  const [verb, ...rest] = positionals;
  if ((verb !== "list" && verb !== "set") || rest.length > 0) {
    throw new CliError(`unknown positions command: ${positionals.join(" ")} (list or set)`, 2);
  }
  let change: PositionChange | undefined;
  if (verb === "set") {
    try {
      change = positionChange({
        gid: values.gid,
        stock: values.stock,
        shelf: values.shelf,
        refillBelow: values["refill-below"],
        capacity: values.capacity,
      });
    } catch (e) {
      throw e instanceof UserError ? new CliError(e.message, 2) : e;
    }
  }
  const { config } = loadCliConfig(values);
  if (change) {
    const set = change;
    await withStoreOrApi(
      config,
      (db) =>
        setPosition(db, set.gid, set.stock, set.shelf, set.below, set.capacity).catch((e) => {
          throw e instanceof UserError ? new CliError(e.message) : e;
        }),
      (api) =>
        api("POST", `/api/positions/${set.gid}`, {
          stock: values.stock,
          shelf: values.shelf,
          refillBelow: values["refill-below"],
          capacity: values.capacity,
        }),
    );
    console.log(`goods ${set.gid}: position set`);
    return 0;
  }
  const rows = await withStoreOrApi(
    config,
    (db) => listPositions(db, config.shelfWarehouse),
    async (api) =>
      (await api(
        "GET",
        `/api/positions?warehouse=${encodeURIComponent(config.shelfWarehouse)}`,
      )) as PositionListing[],
    { existing: true },
  );
  console.log(["GID", "NAME", "STOCK", "SHELF", "REFILL BELOW", "SHELF QTY"].join("\t"));
  const p = (x: Place) => `${x.posx},${x.posy},${x.posz}`;
  for (const r of rows) {
    console.log(
      [
        r.gid,
        r.name,
        p(r.stockPosition),
        p(r.goodsPosition),
        r.refillBelow ?? `default (${config.refillThreshold})`,
        r.shelfQuantity ?? "-",
      ].join("\t"),
    );
  }
  console.log(`${rows.length} position(s)`);
  return 0;
}
