/**
 * `main.ts serve` as a child process, for tests that kill the appliance (SIGKILL) and start it
 * again on the same store.
 *
 * @module
 */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A `main.ts serve` child process; its log lines are kept (and drained, so it never blocks). */
export class ServeProcess {
  readonly lines: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #drained: Promise<void>;
  #started = Promise.withResolvers<void>();

  constructor(args: string[], env: Record<string, string>) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", MAIN, "serve", ...args],
      env: { NO_COLOR: "1", NEWRETAIL_ADMIN: "false", NEWRETAIL_DISCOVERY: "false", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#drained = Promise.all([this.#drain(this.#child.stdout), this.#drain(this.#child.stderr)])
      .then(() => {
        this.#started.reject(new Error(`serve ended before it started:\n${this.lines.join("\n")}`));
      });
    this.#started.promise.catch(() => {});
  }

  async #drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    let buffered = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      buffered += text;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        this.lines.push(line);
        if (line.includes('"newretail started"')) this.#started.resolve();
      }
    }
  }

  /** Resolves once the server listens. */
  started(): Promise<void> {
    return this.#started.promise;
  }

  /** Sends `signal` without waiting (SIGSTOP freezes the process with its sockets open). */
  signal(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /** Sends `signal` and waits for the exit; returns the exit code. */
  async kill(signal: Deno.Signal): Promise<number> {
    try {
      this.#child.kill(signal);
    } catch {
      // exited already
    }
    const status = await this.#child.status;
    await this.#drained;
    return status.code;
  }
}
