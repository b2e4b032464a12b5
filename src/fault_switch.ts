/**
 * The fault lab's test-only switches (`NEWRETAIL_FAULT_LAB_UNSAFE_…`): each turns off one guard so
 * that the lab's `--guard-off` run shows what the guard prevents (docs/FAULTS.md). Each is declared
 * and read in the one module it turns off, which logs a warning when it is on; none is ever set in
 * a store.
 *
 * @module
 */

/**
 * Whether the fault lab set the switch `name` to `1`. Without permission to read it (a store's
 * scoped environment) it is not set.
 *
 * @example
 * ```ts
 * const off = faultSwitchOn("NEWRETAIL_FAULT_LAB_UNSAFE_NO_DISK_GUARD");
 * ```
 */
export function faultSwitchOn(name: string): boolean {
  try {
    return Deno.env.get(name) === "1";
  } catch {
    return false;
  }
}
