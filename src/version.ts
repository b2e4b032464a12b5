/**
 * The program's version: deno.json's `version`, imported as JSON so that `deno bundle` inlines it
 * and the bundle, the checkout and `/healthz` all say the same thing.
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };

/** The version of this build (deno.json's `version`, e.g. "0.1.0"). */
export const VERSION: string = denoJson.version;
