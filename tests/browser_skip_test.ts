/**
 * The console's browser tests are skipped by name, not failed, on a machine without Chromium
 * (the README's test command on a fresh machine), and run wherever the browser is.
 */
import assert from "node:assert/strict";
import { browserSkipReason } from "./_support/browser.ts";

Deno.test("browser tests: a missing or non-executable Chromium is a named skip, a present one runs", async () => {
  const missing = browserSkipReason("/nonexistent/chromium");
  assert.match(
    missing,
    /^ \[skipped: no Chromium at \/nonexistent\/chromium; apt-get install chromium/,
  );

  const file = await Deno.makeTempFile({ prefix: "newretail-browser-" });
  try {
    await Deno.chmod(file, 0o644);
    assert.notEqual(browserSkipReason(file), "", "a file that cannot be run is no browser");
    await Deno.chmod(file, 0o755);
    assert.equal(browserSkipReason(file), "");
  } finally {
    await Deno.remove(file);
  }
  assert.equal(browserSkipReason(Deno.execPath()), "");
});
