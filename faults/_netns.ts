/**
 * The network scenario's wiring: a network namespace of the lab's own for the devices, joined to
 * the appliance (in the host's namespace, where its database and broker are) by a veth pair, and
 * the faults on that link — nftables rules inside the devices' namespace (`numgen random` loss
 * each way, a drop-all partition, one connection's packets dropped: a device gone without FIN or
 * RST) and `tbf` qdiscs on both ends (a slow link). This kernel has no `netem`; latency with
 * jitter is the lab's relay (`_relay.ts`).
 *
 * Only what the lab made is touched: its namespace (nftables runs inside it, never on the host's
 * firewall) and its veth pair, both removed by {@link LabNetwork.destroy} (and by the next run,
 * should a run be killed: {@link removeStaleNetworks}).
 *
 * @module
 */

/** The prefix of every namespace the lab makes (`nrlab-<pid>`). */
const NAMESPACE_PREFIX = "nrlab-";

/** Runs a command; resolves its stdout, rejects with its stderr. */
export async function run(cmd: string, args: string[], input?: string): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
  }
  const out = await child.output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${text(out.stderr) || `exit ${out.code}`}`);
  }
  return text(out.stdout);
}

/**
 * Why namespaces cannot be made here (not root, `ip`/`nft`/`tc` missing, or the kernel refuses
 * one), or undefined when they can: checked by making and removing a throw-away namespace.
 */
export async function namespacesUnavailable(): Promise<string | undefined> {
  if (Deno.uid() !== 0) return "not root: network namespaces need root";
  for (const tool of ["ip", "nft", "tc"]) {
    try {
      await run(tool, ["-V"]);
    } catch (e) {
      return `${tool} is not usable (${(e as Error).message}); apt install iproute2 nftables`;
    }
  }
  const probe = `${NAMESPACE_PREFIX}probe-${Deno.pid}`;
  try {
    await run("ip", ["netns", "add", probe]);
    await run("ip", ["netns", "exec", probe, "nft", "list", "ruleset"]);
  } catch (e) {
    return `cannot make a network namespace with nftables in it: ${(e as Error).message}`;
  } finally {
    await run("ip", ["netns", "del", probe]).catch(() => {});
  }
  return undefined;
}

/** Whether a process of this id is running (a killed lab run's leftovers are its own). */
export function processAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** Removes namespaces (and so their veth pairs) left by lab runs whose process is gone. */
export async function removeStaleNetworks(): Promise<void> {
  const list = await run("ip", ["netns", "list"]);
  for (const line of list.split("\n")) {
    const name = line.split(" ")[0];
    if (!name.startsWith(NAMESPACE_PREFIX)) continue;
    const pid = Number(name.slice(NAMESPACE_PREFIX.length).split("-").at(-1));
    if (Number.isInteger(pid) && !processAlive(pid)) await run("ip", ["netns", "del", name]);
  }
}

/** A fault on the link; `none` clears them all. */
export type LinkFault =
  | { kind: "none" }
  /** Each packet over the link dropped with this probability (percent), each way on its own. */
  | { kind: "loss"; percent: number }
  /** Nothing crosses the link. */
  | { kind: "partition" }
  /** A token bucket on both ends: `rateKbit` each way, packets queued up to `latencyMs`. */
  | { kind: "slow"; rateKbit: number; latencyMs: number };

/** The devices' namespace and its link to the appliance. */
export interface LabNetwork {
  /** The namespace's name (for `ip netns exec`). */
  readonly namespace: string;
  /** The appliance's address on the link (host side): devices connect here. */
  readonly applianceAddress: string;
  /** The devices' address on the link. */
  readonly deviceAddress: string;
  /** A command line that runs `cmd args` inside the devices' namespace. */
  inside(cmd: string, args: string[]): { cmd: string; args: string[] };
  /** Sets the link's fault (replacing the one before). */
  setFault(fault: LinkFault): Promise<void>;
  /**
   * Drops every packet of the device connection whose local (device-side) port is `port`, both
   * ways, from now on: the device is gone without a FIN or a RST (half-open).
   */
  dropConnection(port: number): Promise<void>;
  /** Removes the namespace, the veth pair, their rules and qdiscs. */
  destroy(): Promise<void>;
}

/** A /30 of 10.213.0.0/16 no interface of this machine uses yet. */
async function freeSubnet(): Promise<number> {
  const used = await run("ip", ["-4", "-o", "addr", "show"]);
  for (let i = Deno.pid % 16_000; i < Deno.pid % 16_000 + 16_000; i++) {
    const block = i % 16_000;
    const third = Math.floor(block / 64);
    const fourth = (block % 64) * 4;
    if (!used.includes(`10.213.${third}.${fourth + 1}/`)) return block;
  }
  throw new Error("no free /30 in 10.213.0.0/16");
}

/**
 * Makes the devices' namespace `nrlab-<pid>` and its veth link: the host end (`nrh<pid>`) with the
 * appliance's address, the other end (`nrd<pid>`) in the namespace, an nftables table `lab` there
 * with empty input and output chains.
 */
export async function createLabNetwork(): Promise<LabNetwork> {
  const namespace = `${NAMESPACE_PREFIX}${Deno.pid}`;
  const hostEnd = `nrh${Deno.pid}`;
  const deviceEnd = `nrd${Deno.pid}`;
  const block = await freeSubnet();
  const base = `10.213.${Math.floor(block / 64)}.`;
  const applianceAddress = `${base}${(block % 64) * 4 + 1}`;
  const deviceAddress = `${base}${(block % 64) * 4 + 2}`;
  const inNs = (args: string[]) => run("ip", ["netns", "exec", namespace, ...args]);

  await run("ip", ["netns", "add", namespace]);
  try {
    await run("ip", ["link", "add", hostEnd, "type", "veth", "peer", "name", deviceEnd]);
    await run("ip", ["link", "set", deviceEnd, "netns", namespace]);
    await run("ip", ["addr", "add", `${applianceAddress}/30`, "dev", hostEnd]);
    await run("ip", ["link", "set", hostEnd, "up"]);
    await run("ip", ["-n", namespace, "addr", "add", `${deviceAddress}/30`, "dev", deviceEnd]);
    await run("ip", ["-n", namespace, "link", "set", deviceEnd, "up"]);
    await run("ip", ["-n", namespace, "link", "set", "lo", "up"]);
    await run(
      "ip",
      ["netns", "exec", namespace, "nft", "-f", "-"],
      [
        "table inet lab {",
        "  chain input { type filter hook input priority 0; policy accept; }",
        "  chain output { type filter hook output priority 0; policy accept; }",
        "}",
      ].join("\n"),
    );
  } catch (e) {
    await run("ip", ["netns", "del", namespace]).catch(() => {});
    await run("ip", ["link", "del", hostEnd]).catch(() => {});
    throw e;
  }

  const nft = (script: string[]) =>
    run("ip", ["netns", "exec", namespace, "nft", "-f", "-"], script.join("\n") + "\n");
  const clearQdiscs = async () => {
    await inNs(["tc", "qdisc", "del", "dev", deviceEnd, "root"]).catch(() => {});
    await run("tc", ["qdisc", "del", "dev", hostEnd, "root"]).catch(() => {});
  };
  // Connections dropped for good (half-open devices) survive a change of the link's fault.
  const dropped: number[] = [];
  const droppedRules = () =>
    dropped.flatMap((port) => [
      `add rule inet lab input iifname "${deviceEnd}" tcp dport ${port} drop`,
      `add rule inet lab output oifname "${deviceEnd}" tcp sport ${port} drop`,
    ]);

  let fault: LinkFault = { kind: "none" };
  const apply = async () => {
    const rules: string[] = ["flush chain inet lab input", "flush chain inet lab output"];
    rules.push(...droppedRules());
    if (fault.kind === "loss") {
      // numgen random mod 10000 < p·100: the share of packets dropped, drawn per packet.
      const below = Math.round(fault.percent * 100);
      rules.push(
        `add rule inet lab input iifname "${deviceEnd}" numgen random mod 10000 < ${below} drop`,
        `add rule inet lab output oifname "${deviceEnd}" numgen random mod 10000 < ${below} drop`,
      );
    } else if (fault.kind === "partition") {
      rules.push(
        `add rule inet lab input iifname "${deviceEnd}" drop`,
        `add rule inet lab output oifname "${deviceEnd}" drop`,
      );
    }
    await nft(rules);
    await clearQdiscs();
    if (fault.kind === "slow") {
      const tbf = [
        "root",
        "tbf",
        "rate",
        `${fault.rateKbit}kbit`,
        "burst",
        "4kb",
        "latency",
        `${fault.latencyMs}ms`,
      ];
      await inNs(["tc", "qdisc", "add", "dev", deviceEnd, ...tbf]);
      await run("tc", ["qdisc", "add", "dev", hostEnd, ...tbf]);
    }
  };

  return {
    namespace,
    applianceAddress,
    deviceAddress,
    inside: (cmd, args) => ({ cmd: "ip", args: ["netns", "exec", namespace, cmd, ...args] }),
    async setFault(next) {
      fault = next;
      await apply();
    },
    async dropConnection(port) {
      dropped.push(port);
      await nft(droppedRules().slice(-2));
    },
    async destroy() {
      await run("ip", ["netns", "del", namespace]).catch(() => {});
      // Deleting the namespace deletes its veth end, and with it the pair; in case it did not:
      await run("ip", ["link", "del", hostEnd]).catch(() => {});
    },
  };
}
