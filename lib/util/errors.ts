/** Where in an input a problem was found: always a file, plus whatever finer position is known. */
export interface InputLocation {
  file: string;
  line?: number;
  /** JSON path such as `$[12].scores` or a CSV column name. */
  path?: string;
  field?: string;
}

export function formatLocation(loc: InputLocation): string {
  let s = loc.file;
  if (loc.line !== undefined) s += `:${loc.line}`;
  if (loc.path !== undefined) s += ` ${loc.path}`;
  if (loc.field !== undefined) s += ` field '${loc.field}'`;
  return s;
}

/** An error a user can act on: it names the input and says what to do. Printed without a stack by the CLI. */
export class RouterlabError extends Error {
  constructor(
    message: string,
    readonly location?: InputLocation,
    readonly hint?: string,
  ) {
    super(location ? `${formatLocation(location)}: ${message}` : message);
    this.name = "RouterlabError";
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
