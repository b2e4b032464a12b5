/**
 * The pre-initialised empty database shipped with the release (`pglite-template.tar.gz`, made by
 * `deno task pglite-template`): a new store loads it instead of running initdb. The tarball is
 * PGlite's own `dumpDataDir` of a migrated database, with one extra file naming the PGlite
 * version that made it: a template from another version is ignored (initdb runs as before).
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The PGlite this appliance embeds (deno.json's pin; a test keeps them equal). */
export const PGLITE_VERSION = "0.5.17";

/** The template's file name, beside the program's main module. */
export const TEMPLATE_FILE_NAME = "pglite-template.tar.gz";

/** The file inside the template's data directory that holds {@link PGLITE_VERSION}. */
export const TEMPLATE_VERSION_FILE = "newretail-pglite-version";

/** Where the template is looked for: the main module's directory (repo root, or the bundle's). */
export function templatePath(mainModule: string = Deno.mainModule): string {
  return fileURLToPath(new URL(TEMPLATE_FILE_NAME, mainModule));
}

/** The template's bytes, or undefined when there is none. */
export async function readTemplate(path: string): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

function text(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end === -1 ? bytes : bytes.subarray(0, end));
}

/**
 * The PGlite version a template was made with (its {@link TEMPLATE_VERSION_FILE}), or undefined
 * when the bytes are no gzipped tarball or carry no version.
 */
export async function templateVersion(gzipped: Uint8Array): Promise<string | undefined> {
  let tar: Uint8Array;
  try {
    const stream = new Blob([gzipped as BlobPart]).stream().pipeThrough(
      new DecompressionStream("gzip"),
    );
    tar = new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    return undefined;
  }
  // ustar: 512-byte headers, each followed by its data rounded up to 512 bytes.
  for (let at = 0; at + 512 <= tar.length;) {
    const header = tar.subarray(at, at + 512);
    const name = text(header.subarray(0, 100));
    if (name === "") return undefined;
    const prefix = text(header.subarray(345, 500));
    const size = parseInt(text(header.subarray(124, 136)).trim() || "0", 8);
    if (!Number.isFinite(size) || size < 0) return undefined;
    const full = prefix ? `${prefix}/${name}` : name;
    if (full === TEMPLATE_VERSION_FILE || full.endsWith(`/${TEMPLATE_VERSION_FILE}`)) {
      return text(tar.subarray(at + 512, at + 512 + size)).trim();
    }
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return undefined;
}
