/**
 * The store backends every store test runs against (STYLE.md: one conformance suite, called once
 * per implementation). PostgreSQL comes from `DATABASE_URL` (a fresh database per suite, dropped
 * afterwards); embedded PGlite always runs, in a temporary state directory.
 *
 * @module
 */
import postgres from "postgres";
import type { Database } from "../../src/store/database.ts";
import { openPostgres } from "../../src/store/postgres.ts";
import { openPglite } from "../../src/store/pglite/pglite.ts";
import { migrate } from "../../src/store/migrate.ts";
import { seedDemo } from "../../src/store/demo.ts";

/** An opened test database and how to get rid of it. */
export interface TestDatabase {
  db: Database;
  /** For PostgreSQL: the URL of this suite's own database (for a second process or connection). */
  url?: string;
  /** For PGlite: the state directory. */
  stateDir?: string;
  dispose(): Promise<void>;
}

/** A backend under test. */
export interface Backend {
  name: "postgres" | "pglite";
  /** Opens a fresh, migrated database (seeded with the demo catalogue when `demo`). */
  open(options?: { demo?: boolean }): Promise<TestDatabase>;
}

/** The URL of the PostgreSQL service for tests, if any. */
export function testPostgresUrl(): string | undefined {
  return Deno.env.get("DATABASE_URL") || undefined;
}

/** Creates an empty PostgreSQL database of its own; returns its URL and a dropper. */
export async function createPostgresDatabase(
  baseUrl: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `nr_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}

async function prepare(db: Database, demo: boolean): Promise<void> {
  await migrate(db);
  if (demo) await seedDemo(db);
}

/** PostgreSQL (when `DATABASE_URL` is set) and PGlite. */
export function backends(): Backend[] {
  const list: Backend[] = [];
  const pgUrl = testPostgresUrl();
  if (pgUrl) {
    list.push({
      name: "postgres",
      async open({ demo = true } = {}) {
        const created = await createPostgresDatabase(pgUrl);
        const db = openPostgres(created.url, { maxConnections: 4 });
        try {
          await prepare(db, demo);
        } catch (e) {
          await db.close().catch(() => {});
          await created.drop();
          throw e;
        }
        return {
          db,
          url: created.url,
          async dispose() {
            await db.close();
            await created.drop();
          },
        };
      },
    });
  }
  list.push({
    name: "pglite",
    async open({ demo = true } = {}) {
      const stateDir = await Deno.makeTempDir({ prefix: "newretail-test-" });
      let db: Database | undefined;
      try {
        db = await openPglite(stateDir);
        await prepare(db, demo);
      } catch (e) {
        // Nothing is left behind when the database cannot be created.
        await db?.close().catch(() => {});
        await Deno.remove(stateDir, { recursive: true });
        throw e;
      }
      return {
        db,
        stateDir,
        async dispose() {
          try {
            await db.close();
          } finally {
            await Deno.remove(stateDir, { recursive: true });
          }
        },
      };
    },
  });
  return list;
}
