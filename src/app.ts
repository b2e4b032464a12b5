/**
 * Assembles one appliance from its configuration: the local store, the device server and the
 * background services. Everything is created here and passed in (no module state), so a test can
 * run two appliances in one process.
 *
 * @module
 */
import { type Clock, systemClock } from "./clock.ts";
import { type ActionTable, CORE_ACTIONS } from "./actions/mod.ts";
import { MetricsRegistry } from "./metrics.ts";
import type { Config } from "./config/config.ts";
import { EventBus } from "./events.ts";
import { VERSION } from "./version.ts";
import type { Logger } from "./log.ts";
import { type Database, pingDatabase } from "./store/database.ts";
import { latestRecordedTime, listDevices, markAllOffline } from "./store/devices.ts";
import { moveClockDeadlines } from "./store/orders.ts";
import { type AdminServer, type ComponentHealth, startAdminServer } from "./admin/server.ts";
import { migrate } from "./store/migrate.ts";
import { openPglite } from "./store/pglite/pglite.ts";
import { openPostgres } from "./store/postgres.ts";
import { seedDemo } from "./store/demo.ts";
import { upkeep, UPKEEP_INTERVAL_MS } from "./store/upkeep.ts";
import { type Next, Worker } from "./background.ts";
import { DeviceServer } from "./server/server.ts";
import { watchDisabledDevices } from "./server/disabled_devices.ts";
import { GoodsCache } from "./store/goods_cache.ts";
import { GoodsPushWorker } from "./push/goods_push.ts";
import { RefillDispatcher } from "./push/refill_dispatcher.ts";
import { configureStock } from "./store/stock_moves.ts";
import { DiscoveryResponder } from "./discovery/responder.ts";
import { PaymentServices } from "./payment/service.ts";
import { odooSettings } from "./upstream/odoo/settings.ts";
import { OdooConnector, odooHealthComponent } from "./upstream/odoo/connector.ts";
import { setUpstreamEnabled } from "./store/odoo_catalogue.ts";
import { pendingCallCount } from "./store/payment_calls.ts";
import { BacklogMetrics, readBacklog } from "./admin/backlog_metrics.ts";
import { TrustMonitor } from "./trust/monitor.ts";
import { assertAdminExposure } from "./admin/api.ts";
import { loadAdminTls } from "./admin/tls.ts";
import { PriceParity } from "./pricing/parity.ts";
import { LabelDisplayBatches } from "./pricing/label_display.ts";
import { OrderIntake } from "./payment/order_intake.ts";
import { startScheduleWorker } from "./pricing/schedules.ts";
import { compilePricelists } from "./pricing/pricelist.ts";
import { LabelMetrics } from "./pricing/label_metrics.ts";
import { labelStates, labelSummary } from "./store/label_shown.ts";
import { StatusPublisher } from "./fleet/publisher.ts";
import { odooSyncReader, readStoreState } from "./fleet/readings.ts";
import { errorMessage } from "./errors.ts";
import { DiskGuard } from "./disk_guard.ts";
import { type ClockJump, GuardedClock } from "./guarded_clock.ts";

const MB = 1024 * 1024;

/** An opened local store. */
export interface OpenedDatabase {
  db: Database;
  /** True when this open created a new embedded database. */
  created: boolean;
}

/**
 * Opens the configured local store: PostgreSQL when `databaseUrl` is set, else embedded PGlite in
 * `stateDir` (locked against a second process).
 */
export async function openDatabase(
  config: Config,
  log?: Logger,
  disk?: DiskGuard,
): Promise<OpenedDatabase> {
  if (config.databaseUrl) return { db: openPostgres(config.databaseUrl, { log }), created: false };
  const db = await openPglite(config.stateDir, {
    // Not restarted in place: exiting lets systemd (Restart=on-failure) start a fresh process,
    // which reopens the directory through PostgreSQL's crash recovery.
    onCrash(error) {
      log?.error("embedded database crashed: exiting for a restart", { error: error.message });
      Deno.exit(70);
    },
    // Stopped by a full disk: it reopens in place once there is room (pglite.ts says why).
    onDiskFull(error) {
      log?.error("embedded database stopped: its disk is full; it reopens when there is room", {
        error: error.message,
      });
      disk?.databaseStopped(true);
    },
    onReopened() {
      log?.info("embedded database reopened");
      disk?.databaseStopped(false);
    },
    onReopenFailed(error) {
      log?.warn("embedded database did not reopen yet", { error: error.message });
    },
  });
  if (db.fromTemplate) log?.info("new embedded database started from the shipped template");
  return { db, created: db.created };
}

/** A background part of the appliance, stopped in reverse order of start. */
export interface Service {
  name: string;
  stop(): Promise<void>;
}

/** What {@link startAppliance} needs. */
export interface ApplianceOptions {
  config: Config;
  /** Where the configuration came from (for the start-up log line). */
  configSources: string[];
  log: Logger;
  /** A test's clock, taken as it is; absent, the appliance keeps its own guarded time. */
  clock?: Clock;
  /** The action table (defaults to every action). */
  actions?: ActionTable;
}

/** A running appliance. */
export interface Appliance {
  readonly config: Config;
  readonly db: Database;
  readonly server: DeviceServer;
  readonly events: EventBus;
  readonly metrics: MetricsRegistry;
  /** The sendGoods push worker. */
  readonly pushes: GoodsPushWorker;
  /** The AGV refill job dispatcher. */
  readonly refill: RefillDispatcher;
  /** The UDP discovery responder; undefined when off or its port could not be bound. */
  readonly discovery: DiscoveryResponder | undefined;
  /** Payment-server outbox, MQTT, order expiry and payment-result pushes. */
  readonly payments: PaymentServices;
  /** The Odoo connector in Odoo mode (NEWRETAIL_ODOO_URL set), else undefined. */
  readonly odoo: OdooConnector | undefined;
  /** The admin HTTP server, unless `adminEnabled` is off. */
  readonly admin?: AdminServer;
  /** Stops everything gracefully and closes the database. Idempotent. */
  shutdown(): Promise<void>;
  /** During {@link shutdown}: the part being stopped now (for a forced exit's last line). */
  readonly stoppingPart: string | undefined;
}

/**
 * Starts the appliance: store (migrated; a new embedded one seeded with the demo catalogue unless
 * `demo` is off), device server, background services.
 *
 * @example
 * ```ts
 * const app = await startAppliance({ config, configSources: ["defaults"], log });
 * console.log(app.server.addr.port);
 * await app.shutdown();
 * ```
 */
export async function startAppliance(options: ApplianceOptions): Promise<Appliance> {
  const { config, log } = options;
  // The appliance's own time (src/guarded_clock.ts); a test's clock is taken as it is.
  const guarded = options.clock ? undefined : new GuardedClock(systemClock, log);
  const clock = options.clock ?? guarded!;
  // Checked before opening anything: an incomplete Odoo setup is a config error.
  const odooConfig = odooSettings(config);
  const adminTls = config.adminEnabled ? await loadAdminTls(config) : undefined;
  if (config.adminEnabled) {
    assertAdminExposure(config.adminHost, config.adminToken, adminTls !== undefined);
  }
  const metrics = new MetricsRegistry();
  const disk = new DiskGuard({
    path: config.databaseUrl ? config.databaseDiskPath || undefined : config.stateDir,
    warnFreeBytes: config.diskWarnFreeMb * MB,
    reserveFreeBytes: config.diskReserveMb * MB,
    log,
    clock,
    metrics,
  });
  const { db, created } = await openDatabase(config, log, disk);
  const services: Service[] = [];
  // Workers that sleep until a time of the appliance's: replanned when that time jumps.
  const wakeOnClockJump: (() => void)[] = [];
  try {
    await disk.start();
    services.push({ name: "disk space", stop: () => disk.stop() });
    const applied = await migrate(db);
    if (applied.length > 0) log.info("database migrated", { applied });
    if (guarded) {
      // A clock behind what the store last recorded is wrong (a PC booted in the past).
      guarded.setFloor(await latestRecordedTime(db));
      metrics.gauge(
        "newretail_clock_offset_seconds",
        "The machine's wall clock minus the appliance's time while a step is held (0: in step).",
        () => [{ labels: {}, value: guarded.reading.offsetMs / 1000 }],
      );
      const watch = clockWatch(guarded, db, log, clock, async (jump) => {
        await moveClockDeadlines(db, new Date(jump.since), jump.byMs);
        for (const wake of wakeOnClockJump) wake();
      });
      watch.start();
      services.push({ name: "clock watch", stop: () => watch.stop() });
    }
    // In Odoo mode the catalogue is Odoo's (goods ids are product ids): no demo goods.
    if (created && config.demo && !odooConfig) {
      const counts = await seedDemo(db);
      log.info("new embedded database loaded with the demo catalogue", counts);
    }
    // Sales take stock off this shelf warehouse, refills bring it from this stock room.
    await configureStock(db, config);
    // Nothing survives a restart: devices still marked online are left over from a crash.
    const stale = await markAllOffline(db, new Date(clock.now()));
    if (stale > 0) log.info("devices marked offline after restart", { devices: stale });

    if (db.kind === "pglite") {
      // No autovacuum and no checkpointer in the embedded database: this worker does their jobs.
      const upkeeper = embeddedUpkeep(db, log, clock);
      upkeeper.start();
      services.push({ name: "embedded database upkeep", stop: () => upkeeper.stop() });
    }

    const events = new EventBus(log);
    // Refused payments and logins: counted, and a refused login logged once per device per hour.
    const trust = new TrustMonitor({ events, metrics, log, clock });
    services.push({ name: "trust monitor", stop: () => Promise.resolve(trust.stop()) });
    // getGoods waits for the cache's reads and for the parity overlay's reloads.
    const goods = new GoodsCache(db.urgent(), { clock });
    await goods.start();
    services.push({ name: "goods cache", stop: () => goods.stop() });
    metrics.counter(
      "newretail_goods_cache_lookups_total",
      "Goods look-ups by barcode or id, answered from the cache (hit) or the database (miss).",
      () => [
        { labels: { result: "hit" }, value: goods.hits },
        { labels: { result: "miss" }, value: goods.misses },
      ],
    );
    // Price integrity (issue 14): what labels show holds the till's price; scheduled prices.
    const labelMetrics = new LabelMetrics(metrics, () => labelSummary(db), clock);
    const shelfPrices = await PriceParity.start({
      db: db.urgent(),
      log,
      clock,
      config,
      expired: labelMetrics.parityExpired,
    });
    services.push({ name: "price parity", stop: () => shelfPrices.stop() });
    const schedules = await startScheduleWorker({ db, log, clock });
    wakeOnClockJump.push(() => schedules.wake());
    services.push({ name: "price schedules", stop: () => schedules.stop() });
    const server = await DeviceServer.listen({
      db,
      goods,
      shelfPrices,
      labels: new LabelDisplayBatches({ db, events }),
      orders: new OrderIntake({ db }),
      config,
      clock,
      log,
      actions: options.actions ?? CORE_ACTIONS,
      events,
      metrics,
      disk,
    });
    // Also stopped first by shutdown(); listed so that a failed start-up below closes it too.
    services.push({ name: "device server", stop: () => server.shutdown() });
    const disabled = await watchDisabledDevices({ db, server, log, clock });
    services.push({ name: "disabled devices", stop: () => disabled.stop() });
    const pushes = await GoodsPushWorker.start({ db, link: server, events, log, config, clock });
    services.push({ name: "goods push", stop: () => pushes.stop() });
    const refill = await RefillDispatcher.start({ db, link: server, events, log, config, clock });
    services.push({ name: "refill jobs", stop: () => refill.stop() });
    const discovery = startDiscovery(config, server.addr.port, log, clock);
    if (discovery) services.push({ name: "discovery", stop: () => discovery.close() });
    const payments = await PaymentServices.start({ db, config, clock, log, events, link: server })
      .catch(async (e) => {
        await server.shutdown();
        throw e;
      });
    services.push({ name: "payments", stop: () => payments.stop() });
    wakeOnClockJump.push(() => payments.expiry.wake());
    // Odoo mode: the connector pulls the catalogue and delivers what the outbox owes Odoo.
    const odoo = await (odooConfig
      ? OdooConnector.start({
        db,
        settings: odooConfig,
        log: log.child({ part: "odoo" }),
        shopId: config.shopId,
        metrics,
        clock,
        random: Math.random,
        compilePricelists,
      })
      : setUpstreamEnabled(db, false).then(() => undefined))
      .catch(async (e) => {
        await server.shutdown();
        throw e;
      });
    if (odoo) services.push({ name: "odoo", stop: () => odoo.stop() });
    // State probes for /healthz; unset means "not configured".
    const probes: {
      mqtt?: () => ComponentHealth | Promise<ComponentHealth>;
      payment?: () => ComponentHealth | Promise<ComponentHealth>;
    } = {
      mqtt: payments.mqtt.configured
        ? () => ({ state: payments.mqtt.connected ? "up" : "down" })
        : undefined,
      payment: payments.paymentServer.configured
        ? async () => ({ state: "up", pendingCalls: await pendingCallCount(db) })
        : undefined,
    };

    let admin: AdminServer | undefined;
    if (config.adminEnabled) {
      const backlog = new BacklogMetrics(metrics, () => readBacklog(db, config.pushTries));
      admin = startAdminServer({
        clock,
        hostname: config.adminHost,
        port: config.adminPort,
        log,
        metrics,
        version: VERSION,
        pingDatabase: () => pingDatabase(db),
        listDevices: () => listDevices(db),
        mqtt: () => probes.mqtt?.() ?? { state: "off", detail: "MQTT not configured" },
        payment: () =>
          probes.payment?.() ?? { state: "off", detail: "payment server not configured" },
        odoo: odoo ? () => odooHealthComponent(odoo.health()) : undefined,
        refreshMetrics: () =>
          Promise.all([backlog.refresh(), labelMetrics.refresh()]).then(() => {}),
        labels: (filter) => labelStates(db, filter),
        token: config.adminToken,
        tls: adminTls,
        api: { db, clock, log },
        console: { db, events, clock, log, config, disk, clockReading: () => guarded?.reading },
      });
      const started = admin;
      services.push({ name: "admin", stop: () => started.close() });
    }

    // The chain's fleet view: this store's retained status on head office's broker.
    if (config.chainMqttUrl) {
      const openAlerts = admin ? admin.openAlerts : () => undefined;
      const odooStatus = odoo ? odooSyncReader(() => odoo.health()) : undefined;
      const status = new StatusPublisher({
        config,
        version: VERSION,
        log: log.child({ part: "chain" }),
        clock,
        events,
        read: async () => ({
          ...await readStoreState(db),
          alerts: openAlerts() ?? null,
          odoo: odooStatus?.() ?? null,
        }),
      });
      await status.start();
      services.push({ name: "chain status", stop: () => status.stop() });
    }

    log.info("newretail started", {
      version: VERSION,
      listen: `${server.addr.hostname}:${server.addr.port}`,
      port: server.addr.port,
      admin: admin ? `${admin.hostname}:${admin.port}` : "off",
      database: db.kind,
      databaseAt: db.description,
      config: options.configSources,
      pid: Deno.pid,
      upstream: odooConfig ? `odoo ${odooConfig.url} db ${odooConfig.db}` : "none (local store)",
    });

    let stopping: Promise<void> | undefined;
    let part: string | undefined;
    return {
      config,
      db,
      server,
      events,
      metrics,
      pushes,
      refill,
      discovery,
      payments,
      odoo,
      admin,
      get stoppingPart() {
        return part;
      },
      shutdown() {
        stopping ??= (async () => {
          log.info("shutting down");
          part = "device server";
          await server.shutdown();
          for (const service of services.reverse()) {
            part = service.name;
            try {
              await service.stop();
            } catch (e) {
              log.warn("service did not stop cleanly", {
                service: service.name,
                error: errorMessage(e),
              });
            }
          }
          part = "database";
          await db.close();
          part = undefined;
          log.info("stopped");
        })();
        return stopping;
      },
    };
  } catch (e) {
    for (const service of services.reverse()) await service.stop().catch(() => {});
    await db.close();
    throw e;
  }
}

/**
 * The embedded database's upkeep pass every {@link UPKEEP_INTERVAL_MS}, the first one an interval
 * after start (a start after a power cut is a login storm: the database has better things to do).
 */
function embeddedUpkeep(db: Database, log: Logger, clock: Clock): Worker {
  let started = false;
  return new Worker(async (): Promise<Next> => {
    if (started) {
      const begun = clock.now();
      const tables = await upkeep(db);
      if (tables.length > 0) {
        log.info("embedded database vacuumed", { tables, ms: clock.now() - begun });
      }
    }
    started = true;
    return { afterMs: UPKEEP_INTERVAL_MS };
  }, { name: "embedded database upkeep", log, clock });
}

/**
 * Holds the appliance's time against the machine's clock every second, and keeps the embedded
 * database's `now()` on it (it is in-process: it would follow every step of the machine's clock).
 * `onJump`: the appliance's time jumped (a clock behind at start was set).
 */
function clockWatch(
  guarded: GuardedClock,
  db: Database,
  log: Logger,
  clock: Clock,
  onJump: (jump: ClockJump) => Promise<void>,
): Worker {
  const embedded = "setClock" in db ? (db as Database & { setClock(ms: number): void }) : undefined;
  embedded?.setClock(guarded.now());
  let owed: ClockJump | undefined;
  return new Worker(async () => {
    owed ??= guarded.check();
    embedded?.setClock(guarded.now());
    if (owed) {
      await onJump(owed); // tried again at the next pass when it fails
      owed = undefined;
    }
    return { afterMs: 1000 };
  }, { name: "clock watch", log, clock });
}

// Discovery is a convenience (devices can be given the address by hand): a UDP port that cannot
// be bound is logged, not fatal.
function startDiscovery(
  config: Config,
  tcpPort: number,
  log: Logger,
  clock: Clock,
): DiscoveryResponder | undefined {
  if (!config.discoveryEnabled) return undefined;
  try {
    const discovery = DiscoveryResponder.listen({
      clock,
      hostname: config.host,
      port: config.discoveryPort,
      tcpPort,
      shop: config.shopId,
      advertiseHost: config.advertiseHost,
      ratePerMinute: config.discoveryRatePerMinute,
      log,
    });
    log.info("answering discovery probes", { udpPort: discovery.addr.port });
    return discovery;
  } catch (e) {
    log.error("discovery off: cannot listen on UDP", {
      port: config.discoveryPort,
      error: errorMessage(e),
    });
    return undefined;
  }
}
