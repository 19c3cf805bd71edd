import path from 'node:path';
import { z } from 'zod';

// The only reader of process.env. Parsed once at start; every bad key is reported together.

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const optionalSecret = z.string().trim().min(24, 'must be at least 24 characters').optional();

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  PUBLIC_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z.string().min(1).optional(),
  ADMIN_TOKEN: optionalSecret,
  PLATFORM_API_TOKEN: optionalSecret,
  FEED_PAST_DAYS: z.coerce.number().int().min(0).max(3650).default(60),
  FEED_FUTURE_DAYS: z.coerce.number().int().min(1).max(3650).default(365),
  FEED_CACHE_ENTRIES: z.coerce.number().int().min(0).max(1_000_000).default(1000),
  UID_DOMAIN: z
    .string()
    .regex(/^[A-Za-z0-9.-]+$/, 'must be a host name')
    .optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
});

export type Env = z.infer<typeof envSchema>;

export type DatabaseConfig = { kind: 'sqlite'; filename: string };

export interface Config {
  env: Env['NODE_ENV'];
  host: string;
  port: number;
  publicBaseUrl: string;
  dataDir: string;
  database: DatabaseConfig;
  /** Undefined in development until server.ts generates one into dataDir. */
  adminToken: string | undefined;
  platformApiToken: string | undefined;
  feed: { pastDays: number; futureDays: number; cacheEntries: number };
  /** Right-hand side of every event UID; fixed at a session's creation. */
  uidDomain: string;
  logLevel: Env['LOG_LEVEL'];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function parseDatabaseUrl(url: string | undefined, dataDir: string): DatabaseConfig | string {
  if (url === undefined) return { kind: 'sqlite', filename: path.join(dataDir, 'sessionsync.db') };
  if (url.startsWith('sqlite:')) {
    const filename = url.slice('sqlite:'.length).replace(/^\/\//, '');
    return filename === '' ? 'DATABASE_URL: sqlite: needs a file path, e.g. sqlite:./data/app.db' : { kind: 'sqlite', filename };
  }
  if (/^postgres(ql)?:/.test(url)) return 'DATABASE_URL: PostgreSQL is not supported yet; leave it unset for SQLite';
  return 'DATABASE_URL: must start with sqlite:';
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  // An empty value means "not set", as in .env.example, so defaults apply.
  const present = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const env = parsed.data;
  const problems: string[] = [];
  if (env.NODE_ENV === 'production') {
    if (env.ADMIN_TOKEN === undefined) problems.push('ADMIN_TOKEN: required when NODE_ENV=production');
    if (env.PUBLIC_BASE_URL === undefined) problems.push('PUBLIC_BASE_URL: required when NODE_ENV=production');
    else if (!env.PUBLIC_BASE_URL.startsWith('https:')) problems.push('PUBLIC_BASE_URL: must be https when NODE_ENV=production');
  }
  const database = parseDatabaseUrl(env.DATABASE_URL, env.DATA_DIR);
  if (typeof database === 'string') problems.push(database);
  if (problems.length > 0 || typeof database === 'string') throw new ConfigError(problems);

  const publicBaseUrl = (env.PUBLIC_BASE_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '');
  return {
    env: env.NODE_ENV,
    host: env.HOST,
    port: env.PORT,
    publicBaseUrl,
    dataDir: env.DATA_DIR,
    database,
    adminToken: env.ADMIN_TOKEN,
    platformApiToken: env.PLATFORM_API_TOKEN,
    feed: { pastDays: env.FEED_PAST_DAYS, futureDays: env.FEED_FUTURE_DAYS, cacheEntries: env.FEED_CACHE_ENTRIES },
    uidDomain: env.UID_DOMAIN ?? new URL(publicBaseUrl).hostname,
    logLevel: env.LOG_LEVEL,
  };
}
