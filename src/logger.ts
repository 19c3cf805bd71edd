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
