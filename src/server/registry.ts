/**
 * Logged-in sessions by device identity. A second login of the same `equipId` takes over: the
 * older connection is closed (PROTOCOL.md §2: it is the same hardware after a reconnect).
 *
 * @module
 */

/** What the registry needs of a session. */
export interface RegisteredSession {
  close(reason: "taken_over"): unknown;
}

/** Sessions by `equipId`. */
export class SessionRegistry<S extends RegisteredSession> {
  #byEquipId = new Map<string, S>();

  /** Makes `session` the device's session; closes and returns the one it replaces, if any. */
  takeOver(equipId: string, session: S): S | undefined {
    const older = this.#byEquipId.get(equipId);
    this.#byEquipId.set(equipId, session);
    if (older && older !== session) {
      older.close("taken_over");
      return older;
    }
    return undefined;
  }

  /** Forgets the device's session, unless another session has taken over since. */
  release(equipId: string, session: S): void {
    if (this.#byEquipId.get(equipId) === session) this.#byEquipId.delete(equipId);
  }

  /** The device's current session. */
  get(equipId: string): S | undefined {
    return this.#byEquipId.get(equipId);
  }

  /** Logged-in sessions. */
  get size(): number {
    return this.#byEquipId.size;
  }

  /** Every logged-in session. */
  values(): IterableIterator<S> {
    return this.#byEquipId.values();
  }
}
