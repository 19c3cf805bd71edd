// What free text may hold. RFC 5545 3.3.11 forbids CONTROL characters in TEXT values (HTAB
// aside; line breaks are written as "\n"), and Google and Graph refuse or mangle them too; C1
// controls (U+0080-U+009F) go with them: no calendar shows one, and some parsers read U+0085 as
// a line break. Single-line fields (names, labels, ids) take no tab or line break at all.

export type TextKind = 'line' | 'multiline';

/* eslint-disable no-control-regex -- matching control characters is the point here */
const FORBIDDEN: Record<TextKind, RegExp> = {
  line: /[\u0000-\u001F\u007F-\u009F]/,
  multiline: /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/,
};
/* eslint-enable no-control-regex */
/** Runs of the same characters, for replacing. */
const FORBIDDEN_RUNS: Record<TextKind, RegExp> = {
  line: new RegExp(`${FORBIDDEN.line.source}+`, 'g'),
  multiline: new RegExp(`${FORBIDDEN.multiline.source}+`, 'g'),
};

/** The first character `kind` text may not hold, described for an error message; null when none. */
export function forbiddenCharacterIn(value: string, kind: TextKind): string | null {
  const match = FORBIDDEN[kind].exec(value);
  if (match === null) return null;
  const code = match[0].codePointAt(0) ?? 0;
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * The same text with nothing a calendar may not show: forbidden characters become one space
 * each run (so words stay apart) and lone surrogates U+FFFD. Identity for every value the API
 * accepts; the backstop for rows stored before it refused them.
 */
export function toPrintableText(value: string, kind: TextKind): string {
  const wellFormed = value.isWellFormed() ? value : value.toWellFormed();
  return FORBIDDEN[kind].test(wellFormed) ? wellFormed.replace(FORBIDDEN_RUNS[kind], ' ') : wellFormed;
}

/** Code-unit order, the same as SQLite's BINARY and PostgreSQL's "C" collation (localeCompare is not). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
