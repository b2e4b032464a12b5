/**
 * Starts a real appliance for end-to-end tests: the real server on a free loopback port, on a
 * fresh database of the chosen backend, with the demo catalogue, logging into memory.
 *
 * @module
 */
import { type Appliance, startAppliance } from "../../src/app.ts";
import type { Clock } from "../../src/clock.ts";
import type { ActionTable } from "../../src/actions/mod.ts";
import { type Config, defaultConfig } from "../../src/config/config.ts";
import { createMemoryLogger, type LogFields } from "../../src/log.ts";
import { seedDemo } from "../../src/store/demo.ts";
import { DeviceClient, type DeviceClientOptions } from "../../src/device/client.ts";
import { type Backend, createPostgresDatabase, testPostgresUrl } from "./databases.ts";

/** A running test appliance. */
export interface TestAppliance {
  app: Appliance;
  config: Config;
  port: number;
  /** Log lines written so far. */
  logs: LogFields[];
  /** Logs in a device; closed by {@link TestAppliance.stop} if still open. */
  device(equipId: string, options?: Partial<DeviceClientOptions>): Promise<DeviceClient>;
  /** Connects without logging in. */
  connect(equipId: string, options?: Partial<DeviceClientOptions>): Promise<DeviceClient>;
  stop(): Promise<void>;
}

/** Options of {@link startTestAppliance}. */
export interface TestApplianceOptions {
  config?: Partial<Config>;
  clock?: Clock;
  /** Load the demo catalogue (default true). */
  demo?: boolean;
  /** For "postgres": the server to create the test database on (default `DATABASE_URL`). */
  postgresUrl?: string;
  /** The action table (default: the core actions). */
  actions?: ActionTable;
}

/** Starts an appliance on `backend` ("postgres" needs `DATABASE_URL`). */
export async function startTestAppliance(
  backend: Backend["name"],
  options: TestApplianceOptions = {},
): Promise<TestAppliance> {
  let dispose: () => Promise<void>;
  const config: Config = {
    ...defaultConfig(),
    host: "127.0.0.1",
    port: 0,
    discoveryEnabled: false,
    adminEnabled: false,
    logLevel: "debug",
    ...options.config,
  };
  if (backend === "postgres") {
    const created = await createPostgresDatabase(options.postgresUrl ?? testPostgresUrl()!);
    config.databaseUrl = created.url;
    dispose = created.drop;
  } else {
    const stateDir = await Deno.makeTempDir({ prefix: "newretail-e2e-" });
    config.databaseUrl = "";
    config.stateDir = stateDir;
    config.demo = options.demo ?? true;
    dispose = () => Deno.remove(stateDir, { recursive: true });
  }
  const log = createMemoryLogger("debug");
  let app: Appliance;
  try {
    app = await startAppliance({
      config,
      configSources: ["test"],
      log,
      clock: options.clock,
      actions: options.actions,
    });
  } catch (e) {
    await dispose(); // no database or state directory left behind
    throw e;
  }
  if (backend === "postgres" && (options.demo ?? true)) await seedDemo(app.db);
  const port = app.server.addr.port;
  const clients: DeviceClient[] = [];
  const clientOptions = (equipId: string, extra?: Partial<DeviceClientOptions>) => ({
    host: "127.0.0.1",
    port,
    equipId,
    ...extra,
  });
  return {
    app,
    config,
    port,
    logs: log.lines,
    async device(equipId, extra) {
      const client = await DeviceClient.login(clientOptions(equipId, extra));
      clients.push(client);
      return client;
    },
    async connect(equipId, extra) {
      const client = await DeviceClient.connect(clientOptions(equipId, extra));
      clients.push(client);
      return client;
    },
    async stop() {
      try {
        await Promise.all(clients.map((c) => c.close()));
        await app.shutdown();
      } finally {
        await dispose();
      }
    },
  };
}

export { eventually } from "./eventually.ts";
