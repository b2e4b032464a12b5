/**
 * CSV import of what stays local in Odoo mode (Odoo knows nothing of them): shelf-label bindings
 * (label MAC → goods, optionally the device serving the label) and RFID tags (EPC → goods).
 *
 * The file has a header row. Columns (names case-insensitive, order free):
 * - `mac` or `epc` — one of them on each row (a row may have both);
 * - `gid` (goods id; in Odoo mode the Odoo product id) or `barcode`;
 * - `device` (optional) — the device (`DZBQ_0001`) that serves this label, a configured binding
 *   that wins over the one learned from `getGoods`.
 *
 * UTF-8 (with or without BOM) or GBK (what Excel on a Chinese Windows saves). Quoted fields,
 * CRLF and blank lines are fine. Nothing is imported when any row is bad: every error is
 * reported with its line number.
 *
 * @module
 */
import iconv from "iconv-lite";
import type { Database } from "./database.ts";

/** One parsed row. */
export interface BindingRow {
  line: number;
  mac?: string;
  epc?: string;
  gid?: number;
  barcode?: string;
  device?: string;
}

/** What an import did (or would do). */
export interface BindingImportResult {
  labels: number;
  tags: number;
  devices: number;
  errors: string[];
}

/** Decodes the file: UTF-8 when valid (BOM dropped), else GBK. */
export function decodeCsv(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return iconv.decode(bytes, "gbk");
  }
}

/** Splits CSV text into rows of fields (RFC 4180 quoting). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

const KNOWN = ["mac", "epc", "gid", "barcode", "device"];

/** Parses the rows; returns them and the errors (line numbers are the file's, from 1). */
export function parseBindings(text: string): { rows: BindingRow[]; errors: string[] } {
  const table = parseCsv(text);
  const errors: string[] = [];
  const rows: BindingRow[] = [];
  const header = (table[0] ?? []).map((h) => h.trim().toLowerCase());
  const unknown = header.filter((h) => h !== "" && !KNOWN.includes(h));
  if (unknown.length) {
    errors.push(`line 1: unknown column(s) ${unknown.join(", ")} (known: ${KNOWN.join(", ")})`);
  }
  if (!header.includes("mac") && !header.includes("epc")) {
    errors.push("line 1: needs a mac or epc column");
  }
  if (!header.includes("gid") && !header.includes("barcode")) {
    errors.push("line 1: needs a gid or barcode column");
  }
  if (errors.length) return { rows, errors };
  for (let i = 1; i < table.length; i++) {
    const cells = table[i];
    if (cells.every((c) => c.trim() === "")) continue;
    const get = (name: string) => {
      const at = header.indexOf(name);
      const v = at >= 0 ? (cells[at] ?? "").trim() : "";
      return v === "" ? undefined : v;
    };
    const line = i + 1;
    const row: BindingRow = {
      line,
      mac: get("mac"),
      epc: get("epc"),
      barcode: get("barcode"),
      device: get("device"),
    };
    const gid = get("gid");
    if (gid !== undefined) {
      if (!/^\d{1,9}$/.test(gid) || Number(gid) < 1) {
        errors.push(`line ${line}: gid must be a positive whole number, got "${gid}"`);
        continue;
      }
      row.gid = Number(gid);
    }
    if (!row.mac && !row.epc) errors.push(`line ${line}: needs a mac or an epc`);
    else if (row.gid === undefined && !row.barcode) {
      errors.push(`line ${line}: needs a gid or a barcode`);
    } else if (row.device && !row.mac) errors.push(`line ${line}: device is for a label (mac)`);
    else if (row.device && !/^[A-Za-z0-9]+_[A-Za-z0-9_-]+$/.test(row.device)) {
      errors.push(`line ${line}: device must look like DZBQ_0001, got "${row.device}"`);
    } else if ([row.mac, row.epc, row.barcode].some((v) => v !== undefined && v.length > 64)) {
      errors.push(`line ${line}: a value is longer than 64 characters`);
    } else rows.push(row);
  }
  return { rows, errors };
}

/**
 * Imports the rows in one transaction (nothing when any row names unknown goods). A MAC or EPC
 * already bound is re-bound to the goods of the file.
 */
export async function importBindings(
  db: Database,
  rows: BindingRow[],
  options: { dryRun?: boolean } = {},
): Promise<BindingImportResult> {
  const result: BindingImportResult = { labels: 0, tags: 0, devices: 0, errors: [] };
  const ids = [...new Set(rows.flatMap((r) => (r.gid === undefined ? [] : [r.gid])))];
  const codes = [
    ...new Set(rows.flatMap((r) => (r.gid === undefined && r.barcode ? [r.barcode] : []))),
  ];
  const known = new Set(
    (await db.query<{ id: number }>("select id from goods where id = any($1::int[])", [ids])).map((
      r,
    ) => r.id),
  );
  const byCode = new Map(
    (await db.query<{ id: number; barcode: string }>(
      "select id, barcode from goods where active and barcode = any($1::text[])",
      [codes],
    )).map((r) => [r.barcode, r.id]),
  );
  const resolved: { row: BindingRow; goodsId: number }[] = [];
  for (const row of rows) {
    const goodsId = row.gid ?? byCode.get(row.barcode!);
    if (goodsId === undefined || (row.gid !== undefined && !known.has(row.gid))) {
      result.errors.push(
        `line ${row.line}: unknown goods ${
          row.gid !== undefined ? `gid ${row.gid}` : `barcode ${row.barcode}`
        }`,
      );
      continue;
    }
    resolved.push({ row, goodsId });
  }
  if (result.errors.length || options.dryRun) {
    for (const { row } of resolved) {
      if (row.mac) result.labels++;
      if (row.epc) result.tags++;
      if (row.device) result.devices++;
    }
    return result;
  }
  await db.transaction(async (tx) => {
    for (const { row, goodsId } of resolved) {
      if (row.mac) {
        await tx.query(
          `insert into label_bindings (mac, goods_id) values ($1, $2)
           on conflict (mac) do update set goods_id = excluded.goods_id, bound_at = now()
           where label_bindings.goods_id <> excluded.goods_id`,
          [row.mac, goodsId],
        );
        result.labels++;
      }
      if (row.epc) {
        await tx.query(
          `insert into rfid_tags (epc, goods_id) values ($1, $2)
           on conflict (epc) do update set goods_id = excluded.goods_id`,
          [row.epc, goodsId],
        );
        result.tags++;
      }
      if (row.device) {
        await tx.query(
          `insert into label_devices (mac, equip_id, source) values ($1, $2, 'configured')
           on conflict (mac) do update set equip_id = excluded.equip_id, source = 'configured',
             updated_at = now()`,
          [row.mac, row.device],
        );
        result.devices++;
      }
    }
  });
  return result;
}
