/**
 * `bindings import FILE [--dry-run]`: shelf-label bindings and RFID tags from CSV (they stay
 * local in Odoo mode: Odoo has no such data).
 *
 * @module
 */
import {
  type BindingImportResult,
  decodeCsv,
  importBindings,
  parseBindings,
} from "../store/bindings_csv.ts";
import { CliError, CONFIG_FLAGS_HELP, loadCliConfig, parseStoreCommand } from "./_common.ts";
import { withStoreOrApi } from "./_admin_api.ts";
import { errorMessage } from "../errors.ts";

const HELP = `newretail bindings import FILE [--dry-run]

Imports shelf-label bindings and RFID tags from a CSV file with a header row:
  mac      shelf-label MAC (a label row)        } at least one
  epc      RFID tag EPC (a tag row)             }
  gid      goods id (in Odoo mode: the Odoo product id)   } one of them
  barcode  goods barcode                                  }
  device   optional: the device serving the label (DZBQ_0001), wins over the learned one
UTF-8 or GBK (Excel). Nothing is imported if any row is wrong; every error is listed with its
line. --dry-run checks the file without importing. A label's goods change reaches it by itself.

Examples (two files):
  mac,gid,device                          epc,barcode
  AC:23:3F:00:01:02,42,DZBQ_0001          E2801160600002084A3D0C21,6901234567892

${CONFIG_FLAGS_HELP}`;

const FLAGS = {
  "dry-run": { type: "boolean" },
} as const;

/** Runs `bindings`. */
export async function bindingsCommand(args: string[]): Promise<number> {
  const { values, positionals, exit } = parseStoreCommand(args, HELP, FLAGS);
  if (exit !== undefined) return exit;
  const [verb, file, ...rest] = positionals;
  if (verb !== "import" || !file || rest.length > 0) {
    throw new CliError("usage: bindings import FILE [--dry-run]", 2);
  }
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${errorMessage(e)}`);
  }
  const { rows, errors } = parseBindings(decodeCsv(bytes));
  if (errors.length) {
    for (const e of errors) console.error(`${file}: ${e}`);
    throw new CliError(`${file}: ${errors.length} error(s), nothing imported`);
  }
  const dryRun = values["dry-run"] === true;
  const result = await withStoreOrApi<BindingImportResult>(
    loadCliConfig(values).config,
    (db) => importBindings(db, rows, { dryRun }),
    async (api) =>
      (await api(
        "POST",
        `/api/bindings${dryRun ? "?dryRun=1" : ""}`,
        bytes,
      )) as BindingImportResult,
  );
  if (result.errors.length) {
    for (const e of result.errors) console.error(`${file}: ${e}`);
    throw new CliError(`${file}: ${result.errors.length} error(s), nothing imported`);
  }
  console.log(
    `${dryRun ? "would import" : "imported"} ${result.labels} label binding(s), ` +
      `${result.tags} RFID tag(s), ${result.devices} label device(s)`,
  );
  return 0;
}
