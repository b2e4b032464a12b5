/**
 * The one-file release, end to end: `scripts/release.ts` builds both architectures; the x86_64
 * `.run` verifies its checksum, refuses a damaged copy, installs into a scratch root whose
 * launcher then serves `getGoods` over TCP; the aarch64 file carries an aarch64 Deno; an
 * upgrade from a previous release's file keeps that release and a database copy, and
 * `newretail rollback` returns to both.
 */
import assert from "node:assert/strict";
import { buildRelease, REPO, run } from "./_support/release.ts";
import {
  type ApplianceProcess,
  baseEnv,
  startApplianceProcess,
} from "./_support/appliance_process.ts";
import { DeviceClient } from "../src/device/client.ts";
import { DEMO_GOODS } from "../src/store/demo.ts";

const WATER = DEMO_GOODS.find((g) => g.id === 9)!;
const VERSION: string = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`)).version;
const PREVIOUS = "0.0.9-test";

function appEnv(): Record<string, string> {
  return {
    ...baseEnv(),
    NEWRETAIL_HOST: "127.0.0.1",
    NEWRETAIL_PORT: "0",
    NEWRETAIL_ADMIN_PORT: "0",
    NEWRETAIL_DISCOVERY: "false",
    NEWRETAIL_DEMO: "true",
  };
}

async function release(out: string, extra: string[] = []): Promise<void> {
  const r = await run("deno", ["run", "-A", "scripts/release.ts", "--out", out, ...extra]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
}

async function elfMachine(path: string): Promise<number> {
  const head = (await Deno.readFile(path)).subarray(0, 20);
  assert.deepEqual([...head.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], `${path} is an ELF file`);
  return head[18] | (head[19] << 8);
}

async function serve(root: string): Promise<ApplianceProcess> {
  return await startApplianceProcess(`${root}/usr/local/bin/newretail`, ["serve"], appEnv(), root);
}

async function stop(app: ApplianceProcess): Promise<void> {
  const { code, stderr } = await app.stop();
  assert.equal(code, 0, stderr);
}

/** A device logs in (the store's state gains it) and gets goods over TCP. */
async function sell(app: ApplianceProcess, equipId: string): Promise<void> {
  const device = await DeviceClient.login({
    host: "127.0.0.1",
    port: app.port,
    equipId,
    timeoutMs: 20000,
  });
  try {
    const reply = await device.request("getGoods", { code: WATER.barcode });
    assert.equal(reply.json?.exception, "");
    const goods = reply.json?.goods as { gid: number; name: string }[];
    assert.deepEqual(goods.map((g) => [g.gid, g.name]), [[WATER.id, WATER.name]]);
  } finally {
    await device.close();
  }
}

async function deviceIds(app: ApplianceProcess): Promise<string[]> {
  const r = await fetch(`http://127.0.0.1:${app.adminPort}/devices`);
  assert.equal(r.status, 200);
  return ((await r.json()) as { equipId: string }[]).map((d) => d.equipId).sort();
}

Deno.test("the one-file release: build, check, install into a scratch root, serve, upgrade, roll back", async (t) => {
  const work = await Deno.makeTempDir({ prefix: "newretail-release-" });
  const dist = `${work}/dist`;
  const file = `${dist}/newretail-${VERSION}-linux-x86_64.run`;
  const previous = `${work}/prev/newretail-${PREVIOUS}-linux-x86_64.run`;
  try {
    await t.step("deno task release builds both architectures and SHA256SUMS", async () => {
      // One bundle for both builds: the previous release differs by its version only.
      await buildRelease(`${work}/bundle`);
      await Promise.all([
        release(dist, ["--bundle", `${work}/bundle`]),
        release(`${work}/prev`, [
          "--bundle",
          `${work}/bundle`,
          "--version",
          PREVIOUS,
          "--arch",
          "x86_64",
        ]),
      ]);
      const sums = (await Deno.readTextFile(`${dist}/SHA256SUMS`)).trim().split("\n");
      assert.deepEqual(sums.map((l) => l.split("  ")[1]).sort(), [
        `newretail-${VERSION}-linux-aarch64.run`,
        `newretail-${VERSION}-linux-x86_64.run`,
      ]);
      const r = await run("sha256sum", ["--check", "SHA256SUMS"], { cwd: dist });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal((await Deno.stat(file)).mode! & 0o111, 0o111, "executable");
    });

    await t.step("--check verifies the embedded checksum and refuses a damaged copy", async () => {
      const ok = await run(file, ["--check"]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /checksum OK \(newretail .+, linux-x86_64\)/);
      const damaged = `${work}/damaged.run`;
      const bytes = await Deno.readFile(file);
      bytes[bytes.length - 1000] ^= 0xff;
      await Deno.writeFile(damaged, bytes, { mode: 0o755 });
      const bad = await run(damaged, ["--check"]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /damaged\.run is damaged \(checksum [0-9a-f]{64}, expected/);
      const install = await run(damaged, ["--root", work]);
      assert.equal(install.code, 1, "a damaged file installs nothing");
    });

    await t.step("each file carries the Deno runtime of its architecture", async () => {
      // x86_64's is checked where it is installed (next step).
      for (const [arch, machine] of [["aarch64", 0xb7]] as const) {
        const into = `${work}/extract-${arch}`;
        const r = await run(`${dist}/newretail-${VERSION}-linux-${arch}.run`, ["--extract", into]);
        assert.equal(r.code, 0, r.stderr);
        const tree = `${into}/newretail-${VERSION}`;
        assert.equal(await elfMachine(`${tree}/bin/deno`), machine, `${arch} Deno`);
        for (const name of ["newretail.js", "pglite.wasm", "install.sh", "launcher.sh"]) {
          assert.ok((await Deno.stat(`${tree}/${name}`)).isFile, name);
        }
      }
    });

    // One scratch root for both steps: the previous release's file installs it, the current
    // one upgrades it (each start of a fresh embedded database costs seconds).
    const root = `${work}/root`;
    await Deno.mkdir(root);

    await t.step(
      "--root installs; the installed launcher serves getGoods from that root",
      async () => {
        const r = await run(previous, ["--root", root]);
        assert.equal(r.code, 0, r.stderr + r.stdout);
        assert.match(r.stdout, new RegExp(`current release: ${PREVIOUS.replaceAll(".", "\\.")}`));
        assert.equal(
          await elfMachine(`${root}/opt/newretail/current/bin/deno`),
          0x3e,
          "x86_64 Deno",
        );
        const app = await serve(root);
        try {
          assert.equal(
            app.lines.find((l) => l.msg === "newretail started")?.databaseAt,
            `${root}/var/lib/newretail/db`,
            "the data of the scratch root",
          );
          await sell(app, "DZC_0001"); // the store's state before the upgrade
        } finally {
          await stop(app);
        }
      },
    );

    await t.step(
      "an upgrade keeps the previous release and database; rollback returns to both",
      async () => {
        const upgrade = await run(file, ["--root", root]);
        assert.equal(upgrade.code, 0, upgrade.stderr + upgrade.stdout);
        assert.match(
          upgrade.stdout,
          new RegExp(`copied the embedded database to /var/lib/newretail/db\\.before-${VERSION}`),
        );
        assert.match(upgrade.stdout, new RegExp(`current release: .+ \\(previous: ${PREVIOUS}\\)`));
        assert.equal(await Deno.readLink(`${root}/opt/newretail/previous`), `releases/${PREVIOUS}`);
        assert.equal(await Deno.readLink(`${root}/opt/newretail/current`), `releases/${VERSION}`);
        const upgraded = await serve(root);
        try {
          await sell(upgraded, "DZC_0002"); // written by the new release only
          assert.deepEqual(await deviceIds(upgraded), ["DZC_0001", "DZC_0002"]);
          // A backup through the installed launcher (its computed permissions) while serving.
          const backup = await run(
            `${root}/usr/local/bin/newretail`,
            ["backup", `${work}/live.tar.gz`],
            { env: { ...baseEnv(), NEWRETAIL_ADMIN_PORT: String(upgraded.adminPort) } },
          );
          assert.equal(backup.code, 0, backup.stderr + backup.stdout);
          assert.match(
            backup.stdout,
            /written to .*live\.tar\.gz \(\d+ bytes; taken by the running appliance\)/,
          );
        } finally {
          await stop(upgraded);
        }

        const back = await run(`${root}/usr/local/bin/newretail`, ["rollback"]);
        assert.equal(back.code, 0, back.stderr + back.stdout);
        assert.match(
          back.stdout,
          new RegExp(
            `rolled back from ${VERSION} to ${PREVIOUS}; restored the embedded database copied before the upgrade \\(/var/lib/newretail/db\\.before-${VERSION}\\) into /var/lib/newretail/db; the ${VERSION} database is kept in /var/lib/newretail/db\\.after-${VERSION}`,
          ),
        );
        assert.equal(await Deno.readLink(`${root}/opt/newretail/current`), `releases/${PREVIOUS}`);
        assert.equal(
          (await Deno.readTextFile(`${root}/opt/newretail/current/VERSION`)).trim(),
          PREVIOUS,
        );
        const restored = await serve(root);
        try {
          assert.deepEqual(await deviceIds(restored), ["DZC_0001"], "the pre-upgrade database");
        } finally {
          await stop(restored);
        }
        const again = await run(`${root}/usr/local/bin/newretail`, ["rollback"]);
        assert.equal(again.code, 1);
        assert.match(again.stderr, /no previous release .*: nothing to roll back to/);
      },
    );
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
