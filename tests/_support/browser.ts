/**
 * The system's headless Chromium (Debian's `chromium` package) driven by puppeteer-core: no
 * browser is downloaded. Used by the console's browser tests and `deno task screenshots`.
 *
 * @module
 */
import puppeteer, { type Browser } from "puppeteer-core";

/** Where Debian's package puts the browser (`.ci/run` installs it when missing). */
export const CHROMIUM = "/usr/bin/chromium";

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
