/**
 * The shell command blocks of the README and the pages under `docs/`, read the way a reader
 * reads them: every fenced block whose language is `sh` or `bash`, in document order. A block
 * not meant to run here says so on its fence line, with the reason:
 * ```` ```sh (not run: on an installed store PC (sudo, systemd)) ````.
 *
 * @module
 */

/** One fenced shell block of a Markdown file. */
export interface DocBlock {
  /** The file it is in, relative to the repository. */
  file: string;
  /** The line of its opening fence (1-based). */
  line: number;
  /** Its commands, as written. */
  script: string;
  /** Why it is not run, when its fence says so. */
  notRun?: string;
}

const SHELL = new Set(["sh", "bash"]);

/**
 * The shell blocks of one Markdown text. Throws on a fence without a language: every block says
 * whether it is commands (`sh`) or something else (`text`, `json`, `ts`).
 */
export function shellBlocks(markdown: string, file: string): DocBlock[] {
  const lines = markdown.split("\n");
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})(.*)$/.exec(lines[i]);
    if (!open) continue;
    // Closed by a fence at least as long (a ```` block may show ``` blocks inside it).
    const closing = new RegExp(`^${open[1]}\`*\\s*$`);
    const info = open[2].trim();
    const end = lines.findIndex((l, j) => j > i && closing.test(l));
    if (end === -1) throw new Error(`${file}:${i + 1}: a code block that is never closed`);
    if (info === "") throw new Error(`${file}:${i + 1}: a code block without a language`);
    const language = info.split(/\s/)[0];
    if (SHELL.has(language)) {
      const notRun = /^\S+\s+\(not run: (.+)\)$/.exec(info)?.[1];
      blocks.push({
        file,
        line: i + 1,
        script: lines.slice(i + 1, end).join("\n"),
        ...(notRun ? { notRun } : {}),
      });
    }
    i = end;
  }
  return blocks;
}

/** The first command of a block, for a test step's name. */
export function firstCommand(block: DocBlock): string {
  const line = block.script.split("\n").find((l) => l.trim() && !l.trim().startsWith("#")) ?? "";
  return line.replace(/\s+#.*$/, "").trim();
}
