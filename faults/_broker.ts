/**
 * The store's cloud, as the lab plays it: an MQTT broker of the lab's own (Mosquitto, on an
 * address the appliance can reach) and the cloud's client publishing payment results on the
 * store's pay topic (PROTOCOL.md §5) with QoS 1.
 *
 * @module
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A running broker. */
export interface LabBroker {
  url: string;
  stop(): Promise<void>;
}

/** Starts Mosquitto on `address` (a free port), its configuration in `dir`. */
export async function startBroker(dir: string, address: string): Promise<LabBroker> {
  const probe = Deno.listen({ hostname: address, port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const conf = `${dir}/mosquitto.conf`;
  await Deno.writeTextFile(
    conf,
    `listener ${port} ${address}\nallow_anonymous true\npersistence false\nlog_dest stderr\n`,
  );
  const child = new Deno.Command("/usr/sbin/mosquitto", {
    args: ["-c", conf],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `mqtt://${address}:${port}`;
  for (let i = 0; i < 50; i++) {
    try {
      (await Deno.connect({ hostname: address, port })).close();
      return {
        url,
        async stop() {
          try {
            child.kill("SIGTERM");
          } catch { /* gone */ }
          await child.status;
        },
      };
    } catch {
      await sleep(100);
    }
  }
  child.kill("SIGKILL");
  await child.status;
  throw new Error(`mosquitto did not listen on ${address}:${port}`);
}

/** The cloud's client: publishes on the store's pay topic, resolving on the broker's PUBACK. */
export interface CloudPublisher {
  publish(payload: string): Promise<void>;
  close(): Promise<void>;
}

/** Connects the store cloud's client to `url`, publishing for store `shop`. */
export async function cloudPublisher(url: string, shop: string): Promise<CloudPublisher> {
  const { default: mqtt } = await import("mqtt");
  const client = mqtt.connect(url, { clientId: `lab-cloud-${crypto.randomUUID().slice(0, 8)}` });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  const topic = `/newretail/pay/${shop}`;
  return {
    publish(payload) {
      return new Promise((resolve, reject) => {
        client.publish(topic, payload, { qos: 1 }, (e) => (e ? reject(e) : resolve()));
      });
    },
    async close() {
      await client.endAsync();
    },
  };
}
