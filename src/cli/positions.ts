/**
 * `positions list | set`: where goods are kept and refilled, for the AGVs (getPosition,
 * sendPosition) and the refill thresholds.
 *
 * @module
 */
import { listPositions, type Place, setPosition } from "../store/positions.ts";
import { UserError } from "../errors.ts";
import { CliError, CONFIG_FLAGS_HELP, parseStoreCommand, storeCommand } from "./_common.ts";

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

function place(text: string | undefined, flag: string): Place {
  const parts = (text ?? "").split(",").map((s) => s.trim());
  if (parts.length !== 3 || parts.some((p) => p === "" || p.length > 32)) {
    throw new CliError(`${flag} must be AISLE,SHELF,HEIGHT (e.g. A3,S2,1), got ${text}`, 2);
  }
  return { posx: parts[0], posy: parts[1], posz: parts[2] };
}

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
  let change:
    | { gid: number; stock: Place; shelf: Place; below?: string | null; capacity?: string | null }
    | undefined;
  if (verb === "set") {
    const gid = Number(values.gid);
    if (!Number.isInteger(gid) || gid < 1) throw new CliError("--gid N is needed", 2);
    const below = values["refill-below"];
    if (below !== undefined && below !== "default" && !/^\d{1,11}(\.\d{1,3})?$/.test(below)) {
      throw new CliError(`--refill-below must be a quantity or "default", got ${below}`, 2);
    }
    const capacity = values.capacity;
    if (
      capacity !== undefined && capacity !== "default" &&
      !(/^\d{1,11}(\.\d{1,3})?$/.test(capacity) && Number(capacity) > 0)
    ) {
      throw new CliError(`--capacity must be a quantity > 0 or "default", got ${capacity}`, 2);
    }
    change = {
      gid,
      capacity: capacity === "default" ? null : capacity,
      stock: place(values.stock, "--stock"),
      shelf: place(values.shelf, "--shelf"),
      below: below === "default" ? null : below,
    };
  }
  return await storeCommand(values, async (db, config) => {
    if (change) {
      try {
        await setPosition(
          db,
          change.gid,
          change.stock,
          change.shelf,
          change.below,
          change.capacity,
        );
      } catch (e) {
        if (e instanceof UserError) throw new CliError(e.message);
        throw e;
      }
      console.log(`goods ${change.gid}: position set`);
      return 0;
    }
    const rows = await listPositions(db, config.shelfWarehouse);
    console.log(["GID", "NAME", "STOCK", "SHELF", "REFILL BELOW", "SHELF QTY"].join("\t"));
    for (const r of rows) {
      const p = (x: Place) => `${x.posx},${x.posy},${x.posz}`;
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
  });
}
