/**
 * Scenarios that need more than the core (price push, payment): registered here as they land.
 *
 * @module
 */
import type { BenchContext } from "./run.ts";

/** Name → scenario. */
export const EXTRA_SCENARIOS: Record<string, (ctx: BenchContext) => Promise<void>> = {};
