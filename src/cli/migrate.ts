/**
 * `migrate` and `seed-demo`: one-shot store commands.
 *
 * @module
 */
import { seedDemo } from "../store/demo.ts";
import { schemaVersion } from "../store/migrate.ts";
import { CONFIG_FLAGS, CONFIG_FLAGS_HELP, parseCommandArgs, storeCommand } from "./_common.ts";

/** Runs `migrate`: applies missing migrations and prints the schema version. */
export async function migrateCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, CONFIG_FLAGS, false);
  if (values.help) {
    console.log(
      `newretail migrate [options]\n\nApplies the database migrations.\n\n${CONFIG_FLAGS_HELP}`,
    );
    return 0;
  }
  return await storeCommand(values, async (db) => {
    console.log(
      `${db.kind} database at ${db.description}: schema version ${await schemaVersion(db)}`,
    );
    return 0;
  });
}

/** Runs `seed-demo`: loads (or reloads) the demo catalogue. */
export async function seedDemoCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, CONFIG_FLAGS, false);
  if (values.help) {
    console.log(
      `newretail seed-demo [options]\n\nLoads the demo catalogue (safe to run twice).\n\n${CONFIG_FLAGS_HELP}`,
    );
    return 0;
  }
  return await storeCommand(values, async (db) => {
    const counts = await seedDemo(db);
    console.log(
      `demo catalogue loaded into the ${db.kind} database at ${db.description}: ` +
        Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", "),
    );
    return 0;
  });
}
