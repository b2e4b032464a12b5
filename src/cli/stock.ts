/**
 * `stock show GID | moves --since ISO | adjust GID WH QTY --reason TEXT`: the stock ledger. When
 * the embedded database is held by the running appliance, every verb goes through its admin API
 * (`/api/stock/…`, audited like the other writes).
 *
 * @module
 */
import {
  adjustStock,
  type GoodsStock,
  goodsStock,
  movesSince,
  type StockMove,
} from "../store/stock_moves.ts";
import { writeAudit } from "../store/audit.ts";
import { UserError } from "../errors.ts";
import { CliError, CONFIG_FLAGS_HELP, parseStoreCommand } from "./_common.ts";
import { storeOrApiCommand } from "./_admin_api.ts";

const HELP = `newretail stock show GID [--moves N]
newretail stock moves --since ISO-TIME
newretail stock adjust GID WAREHOUSE QTY --reason TEXT

show: a goods' stock in every warehouse and its last moves (default 10). moves: every stock move
since a time (e.g. 2026-01-31T08:00:00Z), oldest first. adjust: an inventory count — sets the
goods' stock in the warehouse (by code, e.g. MD) to QTY with one adjustment move for the
difference, noting the reason. When the embedded database is held by the running appliance,
these go through its admin API (adminHost/adminPort, with adminToken when set).

${CONFIG_FLAGS_HELP}`;

function gidOf(text: string | undefined): number {
  const gid = Number(text);
  if (!text || !/^\d{1,9}$/.test(text) || gid < 1) throw new CliError(`not a goods id: ${text}`, 2);
  return gid;
}

function moveLine(m: StockMove): string {
  const at = m.at instanceof Date ? m.at.toISOString() : String(m.at);
  return [at, m.goodsId, m.reason, m.from ?? "-", m.to ?? "-", m.quantity, m.reference, m.note]
    .join("\t");
}

const MOVE_HEADER = ["AT", "GID", "REASON", "FROM", "TO", "QTY", "REFERENCE", "NOTE"].join("\t");

function local<T>(run: () => Promise<T>): Promise<T> {
  return run().catch((e) => {
    throw e instanceof UserError ? new CliError(e.message) : e;
  });
}

/** Runs `stock`. */
export async function stockCommand(args: string[]): Promise<number> {
  const { values, positionals, exit } = parseStoreCommand(args, HELP, {
    since: { type: "string" },
    reason: { type: "string" },
    moves: { type: "string" },
  });
  if (exit !== undefined) return exit;
  const [verb, ...rest] = positionals;
  if (verb === "show") {
    if (rest.length !== 1) throw new CliError("stock show needs exactly one goods id", 2);
    const gid = gidOf(rest[0]);
    const count = Number(values.moves ?? 10);
    if (!Number.isInteger(count) || count < 0 || count > 1000) {
      throw new CliError(`--moves must be 0..1000, got ${values.moves}`, 2);
    }
    const stock = await storeOrApiCommand(
      values,
      (db) => local(() => goodsStock(db, gid, count)),
      async (api) => (await api("GET", `/api/stock/${gid}?moves=${count}`)) as GoodsStock,
      { existing: true },
    );
    console.log(`goods ${stock.gid} ${stock.name}`);
    console.log(["WAREHOUSE", "NAME", "QTY"].join("\t"));
    for (const w of stock.warehouses) {
      console.log([w.warehouse, w.name, w.quantity].join("\t"));
    }
    console.log(`last ${stock.moves.length} move(s):`);
    console.log(MOVE_HEADER);
    for (const m of stock.moves) console.log(moveLine(m));
    return 0;
  }
  if (verb === "moves") {
    if (rest.length > 0) throw new CliError("stock moves takes no arguments besides --since", 2);
    const since = new Date(String(values.since ?? ""));
    if (values.since === undefined || Number.isNaN(since.getTime())) {
      throw new CliError("stock moves needs --since ISO-TIME (e.g. 2026-01-31T08:00:00Z)", 2);
    }
    const moves = await storeOrApiCommand(
      values,
      (db) => movesSince(db, since),
      async (api) =>
        (await api(
          "GET",
          `/api/stock/moves?since=${encodeURIComponent(since.toISOString())}`,
        )) as StockMove[],
      { existing: true },
    );
    console.log(MOVE_HEADER);
    for (const m of moves) console.log(moveLine(m));
    console.log(`${moves.length} move(s) since ${since.toISOString()}`);
    return 0;
  }
  if (verb === "adjust") {
    if (rest.length !== 3) throw new CliError("stock adjust needs GID WAREHOUSE QTY", 2);
    const gid = gidOf(rest[0]);
    const [, warehouse, quantity] = rest;
    const reason = values.reason;
    if (typeof reason !== "string" || reason.trim() === "") {
      throw new CliError("stock adjust needs --reason TEXT (why the count differs)", 2);
    }
    const move = await storeOrApiCommand(
      values,
      (db) =>
        local(async () => {
          const done = await adjustStock(db, { gid, warehouse, quantity, note: reason, by: "cli" });
          await writeAudit(db, {
            at: new Date(),
            actor: "cli",
            action: "stock.adjust",
            target: String(gid),
            detail: { warehouse, quantity, reason },
          });
          return done;
        }),
      async (api) =>
        ((await api("POST", `/api/stock/${gid}/adjust`, { warehouse, quantity, reason })) as {
          move: StockMove | null;
        }).move,
    );
    console.log(
      move
        ? `goods ${gid} in ${warehouse}: ${move.to ? "+" : "-"}${move.quantity} (now ${quantity})`
        : `goods ${gid} in ${warehouse}: already ${quantity}, nothing moved`,
    );
    return 0;
  }
  throw new CliError(`unknown stock command: ${verb} (show, moves or adjust)`, 2);
}
