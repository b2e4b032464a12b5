/**
 * install.sh into a scratch root: a first install, a second run that changes nothing, an upgrade
 * that keeps the operator's config, the unit checked by systemd-analyze, uninstall keeping the
 * data, and a clear non-zero exit on each failure.
 */
import { certificateFingerprint } from "../src/admin/tls.ts";
import assert from "node:assert/strict";
import { buildRelease, install, run, snapshot } from "./_support/release.ts";

const SECURITY_THRESHOLD = 2.0;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("install.sh into a scratch root", async (t) => {
  const work = await Deno.makeTempDir({ prefix: "newretail-install-" });
  const release = `${work}/release`;
  const root = `${work}/root`;
  await Deno.mkdir(root);
  try {
    await buildRelease(release);

    await t.step("first install puts every part in place", async () => {
      const r = await install(release, ["--root", root]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /created user newretail/);
      assert.match(r.stdout, /created \/etc\/newretail\/config.json from the example/);
      for (
        const path of [
          "/usr/local/bin/newretail",
          "/opt/newretail/current/newretail.js",
          "/opt/newretail/current/pglite.wasm",
          "/opt/newretail/current/pglite.data",
          "/opt/newretail/current/initdb.wasm",
          "/opt/newretail/current/bin/deno",
          "/etc/newretail/config.json",
          "/etc/systemd/system/newretail.service",
          "/usr/lib/sysusers.d/newretail.conf",
        ]
      ) assert.ok(await exists(root + path), `${path} installed`);
      // Every page the README links to is installed beside it.
      const readme = await Deno.readTextFile(`${root}/opt/newretail/current/README.md`);
      const linked = [...readme.matchAll(/\]\((docs\/[^)#]+)/g)].map((m) => m[1]);
      assert.ok(linked.length >= 5, readme);
      for (const page of linked) {
        assert.ok(await exists(`${root}/opt/newretail/current/${page}`), `${page} installed`);
      }
      assert.equal(
        await Deno.readLink(`${root}/etc/systemd/system/multi-user.target.wants/newretail.service`),
        "/etc/systemd/system/newretail.service",
      );
      const passwd = await Deno.readTextFile(`${root}/etc/passwd`);
      const user = passwd.split("\n").find((l) => l.startsWith("newretail:"))!.split(":");
      const state = await Deno.stat(`${root}/var/lib/newretail`);
      assert.equal(state.mode! & 0o777, 0o750);
      const config = await Deno.stat(`${root}/etc/newretail/config.json`);
      assert.equal(config.mode! & 0o777, 0o640, "the config may hold passwords");
      if (Deno.uid() === 0) {
        assert.equal(state.uid, Number(user[2]), "data owned by the service user");
        assert.equal(config.gid, Number(user[3]), "config readable by the service group");
      }
      // The admin server's self-signed pair (used beyond loopback), its fingerprint printed.
      const key = await Deno.stat(`${root}/etc/newretail/tls/admin.key`);
      assert.equal(key.mode! & 0o777, 0o640, "the admin key is the service's only");
      const cert = await Deno.readTextFile(`${root}/etc/newretail/tls/admin.crt`);
      const fingerprint = await certificateFingerprint(cert);
      assert.ok(fingerprint);
      assert.ok(
        r.stdout.includes(`admin certificate SHA-256 fingerprint: ${fingerprint}`),
        r.stdout,
      );
      const installed = JSON.parse(await Deno.readTextFile(`${root}/etc/newretail/config.json`));
      assert.equal(installed.adminTlsCertFile, "/etc/newretail/tls/admin.crt");
      assert.equal(installed.adminTlsKeyFile, "/etc/newretail/tls/admin.key");
      const launcher = await Deno.readTextFile(`${root}/usr/local/bin/newretail`);
      assert.match(launcher, /permissions -- "\$@"/);
      assert.ok(!launcher.includes(root), "the launcher names target paths, not the scratch root");
    });

    await t.step("a second run changes nothing", async () => {
      const before = await snapshot(root);
      const r = await install(release, ["--root", root]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /nothing changed/);
      assert.doesNotMatch(r.stdout, /: (installed|created|enabled|removed) /);
      assert.deepEqual(await snapshot(root), before);
    });

    await t.step("an upgrade replaces the program and keeps the operator's config", async () => {
      const edited = (await Deno.readTextFile(`${root}/etc/newretail/config.json`))
        .replace('"shopId": "shop0001"', '"shopId": "shop0042"');
      await Deno.writeTextFile(`${root}/etc/newretail/config.json`, edited);
      await Deno.writeTextFile(`${release}/newretail.js`, "\n// next version\n", { append: true });
      const r = await install(release, ["--root", root]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /installed \/opt\/newretail\/releases\/[^/]+\/newretail.js/);
      assert.match(r.stdout, /kept the existing \/etc\/newretail\/config.json/);
      assert.equal(await Deno.readTextFile(`${root}/etc/newretail/config.json`), edited);
    });

    await t.step("the installed unit passes systemd-analyze verify", async () => {
      // verify insists that ExecStart exists on this machine: point it at the scratch root.
      const unit = (await Deno.readTextFile(`${root}/etc/systemd/system/newretail.service`))
        .replace("ExecStart=/usr/local/bin/newretail", `ExecStart=${root}/usr/local/bin/newretail`);
      const copy = `${work}/newretail.service`;
      await Deno.writeTextFile(copy, unit);
      const r = await run("systemd-analyze", ["verify", copy]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr.trim(), "", "no warnings");
    });

    await t.step(
      `systemd-analyze security scores the unit at most ${SECURITY_THRESHOLD}`,
      async () => {
        const r = await run("systemd-analyze", [
          "security",
          "--offline=yes",
          "--no-pager",
          `--threshold=${SECURITY_THRESHOLD * 10}`,
          `${root}/etc/systemd/system/newretail.service`,
        ]);
        const m = /Overall exposure level for newretail\.service: ([\d.]+)/.exec(
          r.stdout + r.stderr,
        );
        assert.ok(m, r.stdout + r.stderr);
        const score = Number(m[1]);
        console.log(`systemd-analyze security: exposure ${score}`);
        assert.ok(score <= SECURITY_THRESHOLD, `exposure ${score}`);
        assert.equal(r.code, 0);
      },
    );

    await t.step("an invalid existing config fails the install with the key named", async () => {
      const good = await Deno.readTextFile(`${root}/etc/newretail/config.json`);
      await Deno.writeTextFile(
        `${root}/etc/newretail/config.json`,
        good.replace('"port": 8686', '"port": 86860'),
      );
      const r = await install(release, ["--root", root]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /error: \/etc\/newretail\/config.json: invalid config: port: /);
      await Deno.writeTextFile(`${root}/etc/newretail/config.json`, good);
    });

    await t.step("uninstall removes the program and keeps config and data", async () => {
      await Deno.writeTextFile(`${root}/var/lib/newretail/keep.txt`, "data");
      const r = await install(release, ["--root", root, "--uninstall"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /kept \/etc\/newretail \(configuration\) and \/var\/lib\/newretail/);
      for (
        const path of [
          "/usr/local/bin/newretail",
          "/opt/newretail",
          "/etc/systemd/system/newretail.service",
          "/etc/systemd/system/multi-user.target.wants/newretail.service",
        ]
      ) assert.ok(!(await exists(root + path)), `${path} removed`);
      assert.equal(await Deno.readTextFile(`${root}/var/lib/newretail/keep.txt`), "data");
      assert.ok(await exists(`${root}/etc/newretail/config.json`));
      const again = await install(release, ["--root", root, "--uninstall"]);
      assert.equal(again.code, 0);
      assert.match(again.stdout, /nothing to remove/);
    });

    await t.step("a reinstall after uninstall finds its config and data again", async () => {
      const r = await install(release, ["--root", root]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /kept the existing/);
      assert.doesNotMatch(r.stdout, /created user/);
      assert.equal(await Deno.readTextFile(`${root}/var/lib/newretail/keep.txt`), "data");
    });

    await t.step("every failure exits non-zero with a reason", async () => {
      const cases: [string[], RegExp][] = [
        [["--root", `${work}/nowhere`], /--root .*nowhere is not a directory/],
        [["--bogus"], /unknown option: --bogus/],
        [["--root"], /--root needs a directory/],
        [["--root", root, "--deno", `${work}/no-deno`], /--deno .*no-deno/],
      ];
      for (const [args, message] of cases) {
        const r = await install(release, args);
        assert.notEqual(r.code, 0, args.join(" "));
        assert.match(r.stderr, message);
      }
      await Deno.remove(`${release}/pglite.data`);
      const r = await install(release, ["--root", root]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /pglite.data is missing: rebuild with deno task bundle/);
    });
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
