/**
 * The pre-initialised empty database shipped with the release (`pglite-template.tar.gz`, made by
 * `deno task pglite-template`): a new store loads it instead of running initdb. The tarball is
 * PGlite's own `dumpDataDir` of a migrated database, with one extra file naming the PGlite
 * version that made it: a template from another version is ignored (initdb runs as before).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { concatBytes } from "../../bytes.ts";

/**
 * Whether `path` exists (`stat: Deno.lstat` to not follow a symbolic link). Here because the
 * worker already loads this module and may read only the files the permissions name.
 */
export async function pathExists(path: string, stat = Deno.stat): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

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
  try {
    const entry = tarEntries(await gunzip(gzipped)).find((e) => e.path === TEMPLATE_VERSION_FILE);
    return entry && new TextDecoder().decode(entry.data).trim();
  } catch {
    return undefined;
  }
}

/** The size of a WAL segment file (PostgreSQL's default, PGlite's build). */
export const WAL_SEGMENT_BYTES = 16 * 1024 * 1024;

/** Whether `path` (relative to the data directory) names a WAL segment file. */
export function isWalSegment(path: string): boolean {
  return /^pg_wal\/[0-9A-F]{24}$/.test(path);
}

/**
 * A WAL segment without its zero tail (after a clean shutdown all of it but the first pages):
 * the template carries this, and {@link extractTemplate} writes the zeros back, which is quicker
 * than inflating them.
 */
export function trimWalSegment(data: Uint8Array): Uint8Array {
  if (data.length !== WAL_SEGMENT_BYTES) throw new Error(`WAL segment of ${data.length} bytes`);
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  const page = 8192;
  return data.slice(0, Math.ceil(end / page) * page);
}

/** One file or directory of a tarball. */
export interface TarEntry {
  /** Relative path, no leading `/`, never `..`. */
  path: string;
  directory: boolean;
  data: Uint8Array;
}

/** The entries of an (uncompressed) ustar tarball; throws on a malformed or unsafe one. */
export function tarEntries(tar: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  for (let at = 0; at + 512 <= tar.length;) {
    const header = tar.subarray(at, at + 512);
    const name = text(header.subarray(0, 100));
    if (name === "") break;
    const prefix = text(header.subarray(345, 500));
    const size = parseInt(text(header.subarray(124, 136)).trim() || "0", 8);
    const type = String.fromCharCode(header[156] || 48);
    if (!Number.isFinite(size) || size < 0 || at + 512 + size > tar.length) {
      throw new Error(`malformed tarball at byte ${at}`);
    }
    const path = (prefix ? `${prefix}/${name}` : name).replace(/^\/+/, "").replace(/\/+$/, "");
    if (path.split("/").some((part) => part === ".." || part === "")) {
      throw new Error(`unsafe path in tarball: ${path}`);
    }
    if (type !== "0" && type !== "5") {
      throw new Error(`unsupported tar entry type ${type}: ${path}`);
    }
    entries.push({
      path,
      directory: type === "5",
      data: tar.subarray(at + 512, at + 512 + size),
    });
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

/** A ustar tarball of `entries` (the inverse of {@link tarEntries}). */
export function tarOf(entries: TarEntry[]): Uint8Array {
  const encoder = new TextEncoder();
  const blocks: Uint8Array[] = [];
  for (const entry of entries) {
    const header = new Uint8Array(512);
    const put = (at: number, length: number, value: string) => {
      const bytes = encoder.encode(value);
      if (bytes.length > length) throw new Error(`tar field too long: ${value}`);
      header.set(bytes, at);
    };
    const octal = (value: number, length: number) =>
      value.toString(8).padStart(length - 1, "0") + "\0";
    const path = entry.directory ? `${entry.path}/` : entry.path;
    const split = path.length > 100 ? path.lastIndexOf("/", path.length - 2) : -1;
    put(0, 100, split === -1 ? path : path.slice(split + 1));
    if (split !== -1) put(345, 155, path.slice(0, split));
    put(100, 8, octal(entry.directory ? 0o700 : 0o600, 8));
    put(108, 8, octal(0, 8));
    put(116, 8, octal(0, 8));
    put(124, 12, octal(entry.directory ? 0 : entry.data.length, 12));
    put(136, 12, octal(0, 12));
    put(148, 8, "        ");
    put(156, 1, entry.directory ? "5" : "0");
    put(257, 8, "ustar\u000000");
    const sum = header.reduce((a, b) => a + b, 0);
    put(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
    blocks.push(header);
    if (!entry.directory) {
      blocks.push(entry.data, new Uint8Array((512 - entry.data.length % 512) % 512));
    }
  }
  blocks.push(new Uint8Array(1024));
  return concatBytes(blocks);
}

/** Gzips `bytes`. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Gunzips `gzipped` (a `Uint8Array`). */
export async function gunzip(gzipped: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([gzipped as BlobPart]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function isEmptyOrMissing(directory: string): Promise<boolean> {
  try {
    for await (const _ of Deno.readDir(directory)) return false;
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return true;
    throw e;
  }
}

/**
 * Unpacks a template made by this PGlite version into `directory` (absent or empty) and returns
 * true; returns false, touching nothing, for a template of another version or a directory that
 * holds something. Unpacked into a sibling first and renamed into place when complete, so a
 * crash half-way leaves no half database behind.
 */
export async function extractTemplate(gzipped: Uint8Array, directory: string): Promise<boolean> {
  if (!(await isEmptyOrMissing(directory))) return false;
  const entries = tarEntries(await gunzip(gzipped));
  const version = entries.find((e) => e.path === TEMPLATE_VERSION_FILE);
  if (!version || new TextDecoder().decode(version.data).trim() !== PGLITE_VERSION) return false;
  const partial = `${directory}.partial`;
  await Deno.remove(partial, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  await Deno.mkdir(partial, { recursive: true, mode: 0o700 });
  // Synchronous: this runs in the database's worker before the database exists, and a thousand
  // small files written one await each take twice as long.
  const made = new Set([partial]);
  for (const entry of entries) {
    if (entry === version) continue;
    const target = `${partial}/${entry.path}`;
    const parent = entry.directory ? target : target.slice(0, target.lastIndexOf("/"));
    if (!made.has(parent)) {
      Deno.mkdirSync(parent, { recursive: true, mode: 0o700 });
      made.add(parent);
    }
    if (entry.directory) continue;
    let data = entry.data;
    if (isWalSegment(entry.path) && data.length < WAL_SEGMENT_BYTES) {
      data = new Uint8Array(WAL_SEGMENT_BYTES);
      data.set(entry.data);
    }
    Deno.writeFileSync(target, data, { mode: 0o600 });
  }
  await Deno.remove(directory).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  await Deno.rename(partial, directory);
  return true;
}
