/**
 * The admin server beyond loopback speaks HTTPS only (issue 27): a real TLS client (Deno's fetch
 * over rustls, and curl) reaches it with the store's certificate, `/healthz` shows the
 * certificate's fingerprint as openssl computes it, plain HTTP and unverified clients are refused,
 * the CLI's admin client follows, loopback stays plain HTTP, and a configuration that would send
 * the token in clear does not start.
 */
import assert from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { startTestAppliance } from "./_support/appliance.ts";
import { selfSignedPair } from "./_support/tls.ts";
import { adminApiClient } from "../src/cli/_admin_api.ts";
import { certificateFingerprint, loadAdminTls } from "../src/admin/tls.ts";
import { ConfigError, defaultConfig, loadConfig } from "../src/config/config.ts";

const backend = backends()[0].name;
const TOKEN = "admin-tls-token-0123456789";

Deno.test(`admin beyond loopback: HTTPS only, its fingerprint in /healthz (${backend})`, async (t) => {
  const tls = await selfSignedPair();
  const appliance = await startTestAppliance(backend, {
    config: {
      adminEnabled: true,
      adminHost: "0.0.0.0",
      adminPort: 0,
      adminToken: TOKEN,
      adminTlsCertFile: tls.certFile,
      adminTlsKeyFile: tls.keyFile,
    },
  });
  const port = appliance.app.admin!.port;
  const auth = { authorization: `Bearer ${TOKEN}` };
  try {
    await t.step("a client that trusts the store's certificate gets /healthz", async () => {
      for (const host of ["127.0.0.1", "localhost"]) {
        const client = Deno.createHttpClient({ caCerts: [tls.cert] });
        try {
          const r = await fetch(`https://${host}:${port}/healthz`, { headers: auth, client });
          assert.equal(r.status, 200, host);
          const health = await r.json();
          assert.equal(health.status, "ok");
          assert.deepEqual(health.tls, { fingerprintSha256: tls.opensslFingerprint });
        } finally {
          client.close();
        }
      }
      const line = appliance.logs.find((l) => l.msg === "admin HTTPS listening");
      assert.equal(line?.fingerprintSha256, tls.opensslFingerprint, "and the log says it");
    });

    await t.step("curl with the certificate as its CA", async () => {
      const out = await new Deno.Command("curl", {
        args: [
          "-sS",
          "--cacert",
          tls.certFile,
          "-H",
          `Authorization: Bearer ${TOKEN}`,
          `https://localhost:${port}/healthz`,
        ],
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert.equal(JSON.parse(new TextDecoder().decode(out.stdout)).status, "ok");
    });

    await t.step("plain HTTP is refused, and so is a client that does not check", async () => {
      await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`, { headers: auth }));
      // The system's CAs alone do not vouch for a store's self-signed certificate.
      await assert.rejects(fetch(`https://127.0.0.1:${port}/healthz`, { headers: auth }));
      const curl = await new Deno.Command("curl", {
        args: ["-sS", `http://127.0.0.1:${port}/healthz`],
      }).output();
      assert.notEqual(curl.code, 0, "curl over plain HTTP gets no answer");
    });

    await t.step("over TLS the token is still needed", async () => {
      const client = Deno.createHttpClient({ caCerts: [tls.cert] });
      try {
        const r = await fetch(`https://127.0.0.1:${port}/devices`, { client });
        assert.equal(r.status, 401);
        await r.body?.cancel();
      } finally {
        client.close();
      }
    });

    await t.step("the CLI's admin client speaks HTTPS with the certificate file", async () => {
      const api = adminApiClient({ ...appliance.config, adminPort: port });
      const answer = await api("POST", "/api/teach-in", { minutes: 1 }) as { open?: boolean };
      assert.equal(answer.open, true, JSON.stringify(answer));
    });
  } finally {
    await appliance.stop();
    await tls.remove();
  }
});

Deno.test(`admin on loopback stays plain HTTP, certificate configured or not (${backend})`, async () => {
  const tls = await selfSignedPair();
  const appliance = await startTestAppliance(backend, {
    config: {
      adminEnabled: true,
      adminHost: "127.0.0.1",
      adminPort: 0,
      adminTlsCertFile: tls.certFile,
      adminTlsKeyFile: tls.keyFile,
    },
  });
  try {
    const r = await fetch(`http://127.0.0.1:${appliance.app.admin!.port}/healthz`);
    assert.equal(r.status, 200);
    assert.equal((await r.json()).tls, undefined);
  } finally {
    await appliance.stop();
    await tls.remove();
  }
});

Deno.test("admin TLS: a configuration that would send the token in clear does not start", async () => {
  const tls = await selfSignedPair();
  try {
    const beyond = { adminEnabled: true, adminHost: "0.0.0.0", adminPort: 0, adminToken: TOKEN };
    await assert.rejects(
      startTestAppliance(backend, { config: beyond }),
      (e: Error) =>
        e instanceof ConfigError && e.key === "adminTlsCertFile" && /only HTTPS/.test(e.message),
    );
    assert.throws(
      () => loadConfig({ flags: { adminTlsCertFile: tls.certFile } }),
      (e: Error) => e instanceof ConfigError && e.key === "adminTlsKeyFile",
    );
    const config = { ...defaultConfig(), ...beyond };
    const cases: [Partial<typeof config>, string, RegExp][] = [
      [
        { adminTlsCertFile: "/nonexistent.crt", adminTlsKeyFile: tls.keyFile },
        "adminTlsCertFile",
        /cannot read/,
      ],
      [
        { adminTlsCertFile: tls.keyFile, adminTlsKeyFile: tls.keyFile },
        "adminTlsCertFile",
        /no PEM certificate/,
      ],
      [
        { adminTlsCertFile: tls.certFile, adminTlsKeyFile: tls.certFile },
        "adminTlsKeyFile",
        /no PEM private key/,
      ],
    ];
    for (const [files, key, message] of cases) {
      await assert.rejects(
        loadAdminTls({ ...config, ...files }),
        (e: Error) => e instanceof ConfigError && e.key === key && message.test(e.message),
        JSON.stringify(files),
      );
    }
  } finally {
    await tls.remove();
  }
});

Deno.test("certificateFingerprint is openssl's SHA-256 fingerprint; no certificate, no fingerprint", async () => {
  const tls = await selfSignedPair(["DNS:store-0001.chain.example"]);
  try {
    assert.equal(await certificateFingerprint(tls.cert), tls.opensslFingerprint);
    assert.equal(await certificateFingerprint("no pem here"), undefined);
    assert.equal(
      await certificateFingerprint("-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----"),
      undefined,
    );
  } finally {
    await tls.remove();
  }
});
