import { pino, type Logger } from 'pino';

// One root logger; modules take a child with `module` set. Log ids only: never client names,
// links, tokens or request bodies (CONVENTIONS.md rule 11). The redact list is a backstop.
export type { Logger };

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'sessionsync' },
      redact: {
        paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'token', '*.token', 'url', '*.url'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/**
 * What of an unknown error may be logged: its type, code and stack frames, never its message,
 * which may quote a request, a URL with a secret (a feed or ICS address) or a client's name.
 */
export function loggableError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err };
  const { code, errno } = err as { code?: unknown; errno?: unknown };
  const frames = (err.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line)).map((line) => line.trim());
  return { type: err.name, ...(typeof code === 'string' ? { code } : {}), ...(typeof errno === 'number' ? { errno } : {}), frames };
}
