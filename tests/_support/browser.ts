/**
 * The system's headless Chromium (Debian's `chromium` package) driven by puppeteer-core: no
 * browser is downloaded. Used by the console's browser tests and `deno task screenshots`.
 *
 * @module
 */
// Pinned here, not in deno.json's imports: deno.json's packages are what `deno task start`
// installs, and a test-only package is no business of a store (docs/developers.md, "Packages").
// deno-lint-ignore no-import-prefix -- deno.json's imports are the appliance's, see above
import puppeteer, { type Browser, type Page } from "npm:puppeteer-core@25.16.0";

export type { Browser, Page };

/**
 * Where Debian's package puts the browser (`.ci/run` installs it when missing);
 * `PUPPETEER_EXECUTABLE_PATH` names another one.
 */
export const CHROMIUM = Deno.env.get("PUPPETEER_EXECUTABLE_PATH") || "/usr/bin/chromium";

/** Whether a file at `path` can be run (a missing browser is a skip, not a failure). */
export function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * Why the browser tests cannot run on this machine, to append to their names and `ignore` them
 * by (`""` when the browser is there): a named skip, never a silent one.
 */
export function browserSkipReason(path: string = CHROMIUM): string {
  return isExecutable(path)
    ? ""
    : ` [skipped: no Chromium at ${path}; apt-get install chromium for the full run]`;
}

/** Starts one headless browser (close it with `browser.close()`). */
export function launchBrowser(): Promise<Browser> {
  const root = Deno.uid() === 0;
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Chromium's sandbox refuses to run as root (CI containers).
    args: [...(root ? ["--no-sandbox"] : []), "--disable-gpu", "--disable-dev-shm-usage"],
  });
}
