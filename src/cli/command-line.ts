/**
 * The command line of this process as a user can paste it back into a POSIX shell: recorded in a
 * run folder (config.json, the report) and offered in hints ("run `gpd transfer ...` again").
 */

/** One argument, single-quoted unless it is made only of characters no shell treats specially. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_/.,:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `gpd` followed by this process's arguments, each quoted for the shell. */
export function commandLine(argv: readonly string[] = process.argv): string {
  return ['gpd', ...argv.slice(2).map(shellQuote)].join(' ');
}
