/**
 * `rollback`: done by the installed launcher (`/usr/local/bin/newretail`), which owns the
 * releases in `/opt/newretail` and the database copy taken at the upgrade; this command only
 * answers when the program is run some other way (a checkout, a bundle run by hand).
 *
 * @module
 */

const HELP = `newretail rollback

Returns to the release installed before the last upgrade and to the copy of the embedded
database taken before that upgrade's migrations, then restarts the service. Run it as root
through the installed command (sudo newretail rollback). It says what it restored.`;

/** Runs `rollback` outside an installed release: says where it works. */
export function rollbackCommand(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(HELP);
    return Promise.resolve(0);
  }
  console.error(
    "rollback switches installed releases: run it through the installed launcher " +
      "(sudo newretail rollback); this program is not running from one",
  );
  return Promise.resolve(1);
}
