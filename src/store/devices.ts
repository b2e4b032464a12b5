/**
 * Devices: registration at first login (admission), online/offline state, enable/disable.
 *
 * @module
 */
import type { Queryable } from "./database.ts";

/**
 * The NOTIFY channel of devices being disabled (migration 005); the payload is the device id, a
 * hint only: a listener re-reads which of its devices are disabled.
 */
export const DEVICE_DISABLED_CHANNEL = "device_disabled";

/** A device row as the admin view and the CLI show it. */
export interface DeviceRecord {
  equip_id: string;
  kind: string;
  enabled: boolean;
  online: boolean;
  last_address: string | null;
  first_seen_at: Date;
  last_login_at: Date | null;
  last_seen_at: Date | null;
  last_offline_at: Date | null;
  /** How the device came to be known. */
  admitted_via: AdmittedVia;
}

/** Admission policy: `open` registers unknown devices, `registered` refuses them. */
export type AdmissionPolicy = "open" | "registered";

/** How a device came to be known (migration 006). */
export type AdmittedVia = "open" | "teach-in" | "operator";

/** The outcome of a login attempt at the store level. */
export type Admission = {
  admitted: true;
  /** True when this login registered the device. */
  registered: boolean;
  /** This login's generation: {@link markOffline} of an older one changes nothing. */
  generation: number;
} | {
  admitted: false;
  /** Stable label (metrics): `disabled` or `not_registered`. */
  code: "disabled" | "not_registered";
  reason: string;
};

// What a login sets on a device already known and enabled (both admitting inserts end with it).
const LOGIN_ON_KNOWN_DEVICE =
  `on conflict (equip_id) do update set online = true, last_address = excluded.last_address,
         last_login_at = excluded.last_login_at, last_seen_at = excluded.last_seen_at,
         login_generation = devices.login_generation + 1
       where devices.enabled
       returning (xmax = 0) as inserted, login_generation as generation`;

type AdmitRow = { inserted: boolean; generation: string | number };

/**
 * Admits a device and marks it online, in one statement on the usual path (a login storm after a
 * power cut is thousands of these at once): refuses a disabled device, and an unknown one under
 * the `registered` policy unless a teach-in window is open at `at`; otherwise records the login
 * time and address and takes the device's next login generation.
 */
export async function admitDevice(
  db: Queryable,
  login: { equipId: string; kind: string; address: string; at: Date; policy: AdmissionPolicy },
): Promise<Admission> {
  const params = [login.equipId, login.kind, login.address, login.at];
  let rows = login.policy === "open"
    ? await db.query<AdmitRow>(
      `insert into devices (equip_id, kind, online, last_address, last_login_at, last_seen_at,
         login_generation)
       values ($1, $2, true, $3, $4, $4, 1)
       ${LOGIN_ON_KNOWN_DEVICE}`,
      params,
    )
    : await db.query<AdmitRow>(
      `update devices set online = true, last_address = $3, last_login_at = $4, last_seen_at = $4,
         login_generation = login_generation + 1
       where equip_id = $1 and enabled and $2::text is not null
       returning false as inserted, login_generation as generation`,
      params,
    );
  if (rows.length === 0 && login.policy === "registered") {
    // Unknown (or disabled): a teach-in window admits the unknown ones.
    rows = await db.query<AdmitRow>(
      `insert into devices (equip_id, kind, online, last_address, last_login_at, last_seen_at,
         login_generation, admitted_via, first_seen_at)
       select $1, $2, true, $3, $4, $4, 1, 'teach-in', $4
       where exists (select 1 from teach_in_windows where opened_at <= $4 and closes_at > $4)
       ${LOGIN_ON_KNOWN_DEVICE}`,
      params,
    );
  }
  if (rows.length > 0) {
    return { admitted: true, registered: rows[0].inserted, generation: Number(rows[0].generation) };
  }
  // Refused: say why (the device exists but is disabled, or is unknown).
  const known = await db.query("select 1 from devices where equip_id = $1", [login.equipId]);
  return known.length > 0
    ? { admitted: false, code: "disabled", reason: `device ${login.equipId} is disabled` }
    : {
      admitted: false,
      code: "not_registered",
      reason: `device ${login.equipId} is not registered`,
    };
}

/**
 * Marks a device offline, unless it has logged in again since the login of `generation` (a newer
 * connection owns the online flag then, whichever write lands first).
 */
export async function markOffline(
  db: Queryable,
  equipId: string,
  generation: number,
  at: Date,
): Promise<void> {
  await db.query(
    `update devices set online = false, last_offline_at = $3, last_seen_at = $3
     where equip_id = $1 and login_generation = $2`,
    [equipId, generation, at],
  );
}

/** Marks every online device offline (start-up after a crash: no connection survived it). */
export async function markAllOffline(db: Queryable, at: Date): Promise<number> {
  const rows = await db.query(
    "update devices set online = false, last_offline_at = $1 where online returning equip_id",
    [at],
  );
  return rows.length;
}

/**
 * The newest time the store recorded (a device heard from, an order made): a wall clock behind it
 * at start is wrong (src/guarded_clock.ts). Undefined in a new store.
 */
export async function latestRecordedTime(db: Queryable): Promise<number | undefined> {
  const [row] = await db.query<{ at: Date | null }>(
    // The newest order by its key (an index read, not a scan of every order at each start).
    `select greatest(
       (select max(greatest(last_seen_at, last_login_at, last_offline_at)) from devices),
       (select created_at from orders order by id desc limit 1)) as at`,
  );
  return row?.at ? row.at.getTime() : undefined;
}

/** Records that these devices were heard from (batched by the server, not per request). */
export async function touchDevices(db: Queryable, equipIds: string[], at: Date): Promise<void> {
  if (equipIds.length === 0) return;
  await db.query("update devices set last_seen_at = $2 where equip_id = any($1::text[])", [
    equipIds,
    at,
  ]);
}

/** Every device, by identity. */
export function listDevices(db: Queryable): Promise<DeviceRecord[]> {
  return db.query<DeviceRecord & Record<string, unknown>>(
    `select equip_id, kind, enabled, online, last_address, first_seen_at, last_login_at,
       last_seen_at, last_offline_at, admitted_via
     from devices order by equip_id`,
  );
}

/** One device, or undefined. */
export async function getDevice(db: Queryable, equipId: string): Promise<DeviceRecord | undefined> {
  const rows = await db.query<DeviceRecord & Record<string, unknown>>(
    `select equip_id, kind, enabled, online, last_address, first_seen_at, last_login_at,
       last_seen_at, last_offline_at, admitted_via
     from devices where equip_id = $1`,
    [equipId],
  );
  return rows[0];
}

/**
 * Enables or disables a device, registering it when unknown (so that `registered` admission can
 * be prepared before the device is plugged in). Returns whether the row was new.
 */
export async function setDeviceEnabled(
  db: Queryable,
  equipId: string,
  kind: string,
  enabled: boolean,
): Promise<{ created: boolean }> {
  const rows = await db.query<{ inserted: boolean }>(
    `insert into devices (equip_id, kind, enabled, admitted_via) values ($1, $2, $3, 'operator')
     on conflict (equip_id) do update set enabled = excluded.enabled
     returning (xmax = 0) as inserted`,
    [equipId, kind, enabled],
  );
  return { created: rows[0].inserted };
}

/** Which of these devices are disabled. */
export async function disabledAmong(db: Queryable, equipIds: string[]): Promise<string[]> {
  if (equipIds.length === 0) return [];
  const rows = await db.query<{ equip_id: string }>(
    "select equip_id from devices where equip_id = any($1::text[]) and not enabled",
    [equipIds],
  );
  return rows.map((r) => r.equip_id);
}

/** Enabled devices: how many, and how many of them are online. */
export async function deviceCounts(db: Queryable): Promise<{ online: number; total: number }> {
  const [r] = await db.query<{ online: number; total: number }>(
    `select count(*) filter (where online)::int as online, count(*)::int as total
     from devices where enabled`,
  );
  return { online: r.online, total: r.total };
}
