/**
 * A machine that can lose its power: a user-mode Linux guest (the Linux kernel run as an ordinary
 * process). Its root is the host's, read-only through `hostfs` (so the guest runs the host's
 * programs and the appliance installed under the lab's directory); its state is an ext4 image, the
 * guest's only writable disk (`ubd0`); its network a TAP device of the lab's own. Killing the
 * kernel's process group is a power cut: whatever the guest had not flushed to its disk (its page
 * cache, the file system's journal in memory) is gone; what it flushed is in the image file, where
 * the next boot finds it (ext4 replays its journal, the database its WAL).
 *
 * Why user-mode Linux and not qemu: both lose the guest's page cache when killed, but qemu has
 * no KVM here (nested virtualisation fails) and emulates every instruction (TCG), where UML runs
 * the guest's code natively: the appliance starts in seconds instead of minutes, and a cycle costs
 * a boot of ~1.3 s. The guest needs a newer kernel than Debian stable's: bookworm's 6.1 and trixie's
 * 6.12 fail on a host CPU with AMX (`ptrace set fp regs failed, errno = 14`: the XSAVE area grew
 * past what they hand to ptrace); sid's 7.2um1 runs. {@link setUpUml} fetches sid's package and its
 * C library with `apt-get download` (into a cache of the lab's own, outside the repository) and
 * points the kernel at that library with `patchelf`.
 *
 * @module
 */

/** Where the lab keeps what its set-up fetched, between runs (never in the repository). */
export function labCacheDir(): string {
  const explicit = Deno.env.get("NEWRETAIL_FAULTS_CACHE");
  if (explicit) return explicit;
  const base = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache`;
  return `${base}/newretail-faults`;
}

/** Debian's suite the kernel comes from (bookworm's 6.1 fails on AMX hosts). */
const SUITE = "sid";
const PACKAGES = ["user-mode-linux", "libc6"];

async function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ ok: boolean; out: string }> {
  try {
    const result = await new Deno.Command(cmd, {
      args,
      cwd: options.cwd,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
    return { ok: result.success, out: text.trim() };
  } catch (e) {
    return { ok: false, out: `${cmd}: ${e instanceof Error ? e.message : String(e)}` };
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Why no power-cut machine can be started here, or `undefined` when one can (cheap checks only:
 * root for the TAP device, the TUN device, the tools the set-up and the guest use).
 */
export async function umlUnavailable(): Promise<string | undefined> {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    return `user-mode Linux needs Linux on x86_64 (this is ${Deno.build.os} ${Deno.build.arch})`;
  }
  if (Deno.uid() !== 0) return "not root: the guest's network is a TAP device (needs root)";
  if (!(await exists("/dev/net/tun"))) return "no /dev/net/tun: the guest's network needs TUN/TAP";
  for (const tool of ["ip", "mkfs.ext4", "setsid", "apt-get", "dpkg-deb", "patchelf", "openssl"]) {
    if (!(await run("sh", ["-c", `command -v ${tool}`])).ok) {
      return `${tool} is missing (apt-get install ${
        tool === "ip" ? "iproute2" : tool === "mkfs.ext4" ? "e2fsprogs" : tool
      })`;
    }
  }
  return undefined;
}

/** A user-mode Linux kernel ready to boot. */
export interface UmlKernel {
  /** The kernel executable. */
  path: string;
  /** Its Debian version, e.g. `7.2um1`. */
  version: string;
}

/**
 * Fetches (once, then from the cache) Debian's current user-mode Linux kernel and the C library
 * it was built against, and boots it once to see that it runs here. Returns the kernel, or why it
 * cannot be had (never throws for the machine's sake).
 */
export async function setUpUml(
  progress: (line: string) => void,
): Promise<UmlKernel | { unavailable: string }> {
  const cache = `${labCacheDir()}/uml`;
  const ready = `${cache}/linux.uml`;
  if (!(await exists(ready))) {
    progress(`setting up user-mode Linux from Debian ${SUITE} in ${cache} (once)`);
    const work = `${cache}.partial`;
    await Deno.remove(work, { recursive: true }).catch(() => {});
    await Deno.mkdir(`${work}/lists/partial`, { recursive: true });
    await Deno.mkdir(`${work}/archives/partial`, { recursive: true });
    await Deno.writeTextFile(
      `${work}/sources.list`,
      `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian ${SUITE} main\n`,
    );
    // apt's own client, on a state directory of the lab's: the machine's apt is left alone.
    const apt = [
      "-o",
      `Dir::Etc::sourcelist=${work}/sources.list`,
      "-o",
      "Dir::Etc::sourceparts=-",
      "-o",
      `Dir::State::Lists=${work}/lists`,
      "-o",
      `Dir::Cache=${work}`,
      "-o",
      "APT::Sandbox::User=root",
    ];
    const update = await run("apt-get", [...apt, "update"]);
    if (!update.ok) {
      return { unavailable: `apt-get update (Debian ${SUITE}) failed: ${tail(update.out)}` };
    }
    const download = await run("apt-get", [...apt, "download", ...PACKAGES], { cwd: work });
    if (!download.ok) return { unavailable: `apt-get download failed: ${tail(download.out)}` };
    for (const entry of Deno.readDirSync(work)) {
      if (entry.name.endsWith(".deb")) {
        const x = await run("dpkg-deb", ["-x", `${work}/${entry.name}`, `${work}/root`]);
        if (!x.ok) return { unavailable: `dpkg-deb -x ${entry.name} failed: ${tail(x.out)}` };
      }
    }
    const version = [...Deno.readDirSync(work)]
      .map((e) => /^user-mode-linux_([^_]+)_/.exec(e.name)?.[1])
      .find((v) => v !== undefined) ?? "unknown";
    const lib = `${work}/root/usr/lib/x86_64-linux-gnu`;
    await Deno.copyFile(`${work}/root/usr/bin/linux.uml`, `${work}/linux.uml`);
    const patch = await run("patchelf", [
      "--set-interpreter",
      `${cache}/lib/ld-linux-x86-64.so.2`,
      "--set-rpath",
      `${cache}/lib`,
      `${work}/linux.uml`,
    ]);
    if (!patch.ok) return { unavailable: `patchelf failed: ${tail(patch.out)}` };
    await Deno.rename(lib, `${work}/lib`);
    await Deno.writeTextFile(`${work}/VERSION`, `${decodeURIComponent(version)}\n`);
    for (const name of ["root", "lists", "archives", "sources.list"]) {
      await Deno.remove(`${work}/${name}`, { recursive: true }).catch(() => {});
    }
    for (const entry of Deno.readDirSync(work)) {
      if (entry.name.endsWith(".deb")) {
        await Deno.remove(`${work}/${entry.name}`);
      }
    }
    await Deno.remove(cache, { recursive: true }).catch(() => {});
    await Deno.rename(work, cache);
  }
  const version = (await Deno.readTextFile(`${cache}/VERSION`).catch(() => "unknown")).trim();
  const kernel = { path: ready, version };
  const probe = await bootProbe(kernel);
  return probe ? { unavailable: probe } : kernel;
}

function tail(text: string, lines = 3): string {
  return text.split("\n").filter((l) => l.trim()).slice(-lines).join(" / ");
}

/** Boots the kernel with a root shell that says hello and powers off; the failure or undefined. */
async function bootProbe(kernel: UmlKernel): Promise<string | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "newretail-uml-probe-" });
  try {
    const init = `${dir}/init.sh`;
    await Deno.writeTextFile(init, "#!/bin/sh\necho GUEST-HELLO\nexec poweroff -f\n");
    await Deno.chmod(init, 0o755);
    const result = await run("timeout", [
      "60",
      kernel.path,
      "mem=128M",
      ...rootArgs(init),
      `uml_dir=${dir}`,
      "con0=null,fd:1",
      "con=null",
      "ssl=null",
    ]);
    if (result.out.includes("GUEST-HELLO")) return undefined;
    return `the user-mode Linux kernel ${kernel.version} did not boot here: ${tail(result.out, 4)}`;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function rootArgs(init: string): string[] {
  return ["root=/dev/root", "rootfstype=hostfs", "rootflags=/", "ro", "quiet", `init=${init}`];
}

/** A TAP device joining the host to one guest: a /30 of the lab's own. */
export interface Tap {
  name: string;
  hostAddress: string;
  guestAddress: string;
  /** The guest's address with its prefix (`10.215.3.6/30`). */
  guestCidr: string;
  remove(): Promise<void>;
}

/** Creates a TAP device on a free 10.215.x.y/30 (checked against the host's addresses). */
export async function createTap(): Promise<Tap> {
  const taken = (await run("ip", ["-4", "-o", "addr"])).out;
  for (let attempt = 0; attempt < 50; attempt++) {
    const third = 1 + Math.floor(Math.random() * 254);
    const fourth = 4 * Math.floor(Math.random() * 63);
    const net = `10.215.${third}.`;
    const host = `${net}${fourth + 1}`;
    const guest = `${net}${fourth + 2}`;
    if (taken.includes(`${net}`)) continue;
    const name = `nrpc${crypto.randomUUID().slice(0, 8)}`;
    for (
      const args of [
        ["tuntap", "add", "dev", name, "mode", "tap"],
        ["addr", "add", `${host}/30`, "dev", name],
        ["link", "set", name, "up"],
      ]
    ) {
      const r = await run("ip", args);
      if (!r.ok) {
        await run("ip", ["link", "del", name]);
        throw new Error(`ip ${args.join(" ")}: ${r.out}`);
      }
    }
    return {
      name,
      hostAddress: host,
      guestAddress: guest,
      guestCidr: `${guest}/30`,
      async remove() {
        await run("ip", ["link", "del", name]);
      },
    };
  }
  throw new Error("no free 10.215.x.y/30 for the guest's network");
}

/** Makes an empty ext4 image of `sizeMiB` (sparse). */
export async function makeDisk(path: string, sizeMiB: number): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  await file.truncate(sizeMiB * 1024 * 1024);
  file.close();
  const r = await run("mkfs.ext4", ["-q", "-F", path]);
  if (!r.ok) throw new Error(`mkfs.ext4 ${path}: ${r.out}`);
}

/** What a guest boots with. */
export interface UmlMachineOptions {
  kernel: UmlKernel;
  /** The guest's init (a script on the host's file system, seen through hostfs). */
  init: string;
  /** The state disk image (`/dev/ubda` in the guest). */
  disk: string;
  tap: Tap;
  memMiB?: number;
  /** Handed to the init as its environment (kernel command-line `NAME=value`; no spaces). */
  env: Record<string, string>;
  /** A directory of the machine's own (the kernel's runtime files, the console logs). */
  dir: string;
}

/** One guest, powered on and cut again and again. */
export class UmlMachine {
  readonly #options: UmlMachineOptions;
  #child: Deno.ChildProcess | undefined;
  #console: Promise<void> | undefined;
  #text = "";
  #boots = 0;
  #exited = true;
  #waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];

  /** @param options kernel, init, disk, network and environment of the guest */
  constructor(options: UmlMachineOptions) {
    this.#options = options;
  }

  /** True while the kernel's process runs (false once it exited by itself: a panic, a poweroff). */
  get running(): boolean {
    return !this.#exited;
  }

  /** What the guest printed on its console since it was last powered on. */
  get console(): string {
    return this.#text;
  }

  /** Powers on: starts the kernel in a process group of its own. */
  powerOn(): void {
    if (this.#child) throw new Error("the machine is running");
    const o = this.#options;
    const boot = ++this.#boots;
    for (const [name, value] of Object.entries(o.env)) {
      if (/\s/.test(value) || /\s/.test(name)) {
        throw new Error(`${name}: no spaces on the kernel line`);
      }
    }
    this.#text = "";
    // setsid: the kernel and its helper processes in one group, killed together.
    this.#child = new Deno.Command("setsid", {
      args: [
        o.kernel.path,
        `mem=${o.memMiB ?? 1024}M`,
        ...rootArgs(o.init),
        `ubd0=${o.disk}`,
        `vec0:transport=tap,ifname=${o.tap.name}`,
        `umid=boot${boot}`,
        `uml_dir=${o.dir}`,
        "con0=null,fd:1",
        "con=null",
        "ssl=null",
        ...Object.entries(o.env).map(([k, v]) => `${k}=${v}`),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { TMPDIR: "/dev/shm" },
    }).spawn();
    this.#exited = false;
    this.#child.status.then(() => this.#exited = true);
    const log = `${o.dir}/console-${boot}.log`;
    this.#console = this.#record(this.#child, log);
  }

  /** Resolves with the first console line matching `pattern` from now on (or already printed). */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string | undefined> {
    const seen = this.#text.split("\n").find((l) => pattern.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const waiter = { pattern, resolve: (line: string | undefined) => finish(line) };
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      const finish = (line: string | undefined) => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(line);
      };
      this.#waiters.push(waiter as { pattern: RegExp; resolve: (line: string) => void });
    });
  }

  /** The power cut: SIGKILL to the kernel's whole process group, then waits for it to be gone. */
  async powerCut(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // gone already
    }
    await child.status;
    await this.#console;
    this.#child = undefined;
  }

  async #record(child: Deno.ChildProcess, path: string): Promise<void> {
    const file = await Deno.open(path, { write: true, create: true, append: true });
    const decoder = new TextDecoder();
    let partial = "";
    const take = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) {
        await file.write(chunk);
        partial += decoder.decode(chunk, { stream: true });
        const cut = partial.lastIndexOf("\n");
        if (cut < 0) continue;
        const lines = partial.slice(0, cut);
        partial = partial.slice(cut + 1);
        // Keep the last 256 KiB in memory: enough for the report, bounded over many boots.
        this.#text = (this.#text + lines + "\n").slice(-256 * 1024);
        for (const line of lines.split("\n")) {
          for (const w of [...this.#waiters]) if (w.pattern.test(line)) w.resolve(line);
        }
      }
    };
    try {
      await Promise.all([take(child.stdout), take(child.stderr)]);
    } finally {
      file.close();
    }
  }
}
