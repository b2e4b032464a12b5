/**
 * One device as the admin server and its API show it: a store row with ISO times. Its own module
 * so the page (`server.ts`) and the API (`api.ts`) share it without importing each other.
 *
 * @module
 */
import type { DeviceRecord } from "../store/devices.ts";

/** One device as `/devices` shows it. */
export interface DeviceView {
  equipId: string;
  kind: string;
  enabled: boolean;
  online: boolean;
  address: string | null;
  lastSeenAt: string | null;
  lastLoginAt: string | null;
  lastOfflineAt: string | null;
  firstSeenAt: string | null;
  /** How it came to be known: `open`, `teach-in` or `operator`. */
  admittedVia: string;
}

function iso(d: Date | string | null | undefined): string | null {
  if (d === null || d === undefined) return null;
  return (d instanceof Date ? d : new Date(d)).toISOString();
}

/** Maps a store row to the `/devices` shape. */
export function deviceView(d: DeviceRecord): DeviceView {
  return {
    equipId: d.equip_id,
    kind: d.kind,
    enabled: d.enabled,
    online: d.online,
    address: d.last_address,
    lastSeenAt: iso(d.last_seen_at),
    lastLoginAt: iso(d.last_login_at),
    lastOfflineAt: iso(d.last_offline_at),
    firstSeenAt: iso(d.first_seen_at),
    admittedVia: d.admitted_via ?? "open",
  };
}
