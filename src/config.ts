import path from 'node:path';
import { z } from 'zod';
import { parseAllowHosts } from '../busy/index.js';
import { DEFAULT_KEY_ID, KEY_ID_PATTERN, parseEncryptionKey, type EncryptionKey } from './crypto/secret-box.js';
import type { StoreLocation } from './store/index.js';

// The only reader of process.env. Parsed once at start; every bad key is reported together.

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const optionalSecret = z.string().trim().min(24, 'must be at least 24 characters').optional();

const KEY_FORMAT = 'must be 32 bytes as 64 hex characters or 43 base64url characters';

/**
 * ENCRYPTION_KEYS: "id:key,id:key,...", the first seals. Messages name entries by position and id,
 * never by their key material.
 */
function parseKeyList(spec: string, ctx: z.RefinementCtx): EncryptionKey[] {
  const keys: EncryptionKey[] = [];
  const entries = spec.split(',').map((e) => e.trim());
  entries.forEach((entry, index) => {
    const where = `entry ${index + 1}`;
    const colon = entry.indexOf(':');
    if (colon < 0) {
      ctx.addIssue({ code: 'custom', message: `${where}: must be id:key` });
      return;
    }
    const id = entry.slice(0, colon).trim();
    if (!KEY_ID_PATTERN.test(id)) {
      ctx.addIssue({ code: 'custom', message: `${where}: the id must be 1-32 characters of A-Z, a-z, 0-9, _ and -` });
      return;
    }
    const key = parseEncryptionKey(entry.slice(colon + 1));
    if (key === null) {
      ctx.addIssue({ code: 'custom', message: `${where} (id ${id}): the key ${KEY_FORMAT}` });
      return;
    }
    if (keys.some((k) => k.id === id)) {
      ctx.addIssue({ code: 'custom', message: `${where}: the id ${id} is used twice` });
      return;
    }
    keys.push({ id, key });
  });
  return keys;
}

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
  FEED_CACHE_MAX_BYTES: z.coerce.number().int().min(0).max(2 ** 40).default(128 * 1024 * 1024),
  FEED_FETCH_FLUSH_SECONDS: z.coerce.number().int().min(0).max(3600).default(5),
  JOIN_OPENS_MINUTES: z.coerce.number().int().min(0).max(1440).default(60),
  FEED_TOMBSTONE_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
  UID_DOMAIN: z
    .string()
    .regex(/^[A-Za-z0-9.-]+$/, 'must be a host name')
    .optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  ENCRYPTION_KEY: z
    .string()
    .refine((v) => parseEncryptionKey(v) !== null, KEY_FORMAT)
    .optional(),
  ENCRYPTION_KEYS: z.string().transform(parseKeyList).optional(),
  ROLE: z.enum(['all', 'api', 'worker'], { error: 'must be all, api or worker' }).default('all'),
  SYNC_PACING: z.enum(['on', 'off']).default('on'),
  GOOGLE_CLIENT_ID: z.string().min(1).optional(),
  GOOGLE_CLIENT_SECRET: z.string().min(1).optional(),
  GOOGLE_AUTH_URL: z.url().default('https://accounts.google.com/o/oauth2/v2/auth'),
  GOOGLE_TOKEN_URL: z.url().default('https://oauth2.googleapis.com/token'),
  GOOGLE_REVOKE_URL: z.url().default('https://oauth2.googleapis.com/revoke'),
  GOOGLE_API_ROOT_URL: z.url().default('https://www.googleapis.com/'),
  MICROSOFT_CLIENT_ID: z.string().min(1).optional(),
  MICROSOFT_CLIENT_SECRET: z.string().min(1).optional(),
  MICROSOFT_TENANT: z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be common, organizations, consumers or a tenant id/domain').default('common'),
  MICROSOFT_LOGIN_URL: z.url().default('https://login.microsoftonline.com'),
  MICROSOFT_GRAPH_URL: z.url().default('https://graph.microsoft.com'),
  BUSY_REFRESH_MINUTES: z.coerce.number().int().min(1).max(1440).default(15),
  BUSY_MAX_BYTES: z.coerce.number().int().min(1024).max(100 * 1024 * 1024).default(5 * 1024 * 1024),
  BUSY_ALLOW_HOSTS: z
    .string()
    .default('')
    .transform((spec, ctx) => {
      try {
        return parseAllowHosts(spec);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
        return z.NEVER;
      }
    }),
});

export type Env = z.infer<typeof envSchema>;
export type Role = Env['ROLE'];

/** Where the store lives: the store's own type, so the two cannot drift apart. */
export type DatabaseConfig = StoreLocation;

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
  feed: { pastDays: number; futureDays: number; cacheMaxBytes: number; fetchFlushMs: number; tombstoneDays: number };
  /** Minutes before a session's start from which its /j/ link leads to the room. */
  joinOpensMinutes: number;
  /** Right-hand side of every event UID; fixed at a session's creation. */
  uidDomain: string;
  logLevel: Env['LOG_LEVEL'];
  /**
   * ENCRYPTION_KEYS in order (the first seals, all open), or ENCRYPTION_KEY as a one-key list
   * under DEFAULT_KEY_ID. Undefined in development until server.ts generates one into dataDir.
   */
  encryptionKeys: EncryptionKey[] | undefined;
  /** api: HTTP only; worker: the sync worker and resync runner, serving only /healthz, /readyz and /metrics; all: both. */
  role: Role;
  /** Off only to measure the engine against fake vendors: real accounts must be paced. */
  syncPacing: boolean;
  google: OAuthAppConfig | null;
  microsoft: (OAuthAppConfig & { tenant: string }) | null;
  /** Busy sources: how often each ICS source is read, its size cap, and the private hosts allowed (tests, on-premises). */
  busy: { refreshMinutes: number; maxBytes: number; allowHosts: ReadonlySet<string> };
}

export interface OAuthAppConfig {
  clientId: string;
  clientSecret: string;
  authUrl: string;
  tokenUrl: string;
  /** Google's revocation endpoint; Microsoft revokes through Graph (apiUrl). */
  revokeUrl?: string;
  /** Google: API root; Microsoft: Graph root. */
  apiUrl: string;
  redirectUri: string;
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
  if (/^postgres(ql)?:\/\//.test(url)) {
    try {
      const parsed = new URL(url);
      return parsed.hostname === '' && !parsed.searchParams.has('host')
        ? 'DATABASE_URL: a postgres:// URL needs a host, e.g. postgres://user@localhost:5432/sessionsync'
        : { kind: 'postgres', url };
    } catch {
      return 'DATABASE_URL: not a valid postgres:// URL';
    }
  }
  return 'DATABASE_URL: must start with sqlite: or postgres://';
}

function encryptionKeys(env: Env): EncryptionKey[] | undefined {
  if (env.ENCRYPTION_KEYS !== undefined) return env.ENCRYPTION_KEYS;
  const key = env.ENCRYPTION_KEY === undefined ? null : parseEncryptionKey(env.ENCRYPTION_KEY);
  return key === null ? undefined : [{ id: DEFAULT_KEY_ID, key }];
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
    if (env.ENCRYPTION_KEY === undefined && env.ENCRYPTION_KEYS === undefined) problems.push('ENCRYPTION_KEY or ENCRYPTION_KEYS: required when NODE_ENV=production');
    if (env.PUBLIC_BASE_URL === undefined) problems.push('PUBLIC_BASE_URL: required when NODE_ENV=production');
    else if (!env.PUBLIC_BASE_URL.startsWith('https:')) problems.push('PUBLIC_BASE_URL: must be https when NODE_ENV=production');
  }
  for (const [id, secret] of [['GOOGLE_CLIENT_ID', 'GOOGLE_CLIENT_SECRET'], ['MICROSOFT_CLIENT_ID', 'MICROSOFT_CLIENT_SECRET']] as const) {
    if ((env[id] === undefined) !== (env[secret] === undefined)) problems.push(`${env[id] === undefined ? id : secret}: set both ${id} and ${secret}, or neither`);
  }
  if (env.ENCRYPTION_KEY !== undefined && env.ENCRYPTION_KEYS !== undefined) {
    problems.push('ENCRYPTION_KEY, ENCRYPTION_KEYS: set one of them, not both (ENCRYPTION_KEY=k is ENCRYPTION_KEYS=default:k)');
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
    feed: { pastDays: env.FEED_PAST_DAYS, futureDays: env.FEED_FUTURE_DAYS, cacheMaxBytes: env.FEED_CACHE_MAX_BYTES, fetchFlushMs: env.FEED_FETCH_FLUSH_SECONDS * 1000, tombstoneDays: env.FEED_TOMBSTONE_DAYS },
    joinOpensMinutes: env.JOIN_OPENS_MINUTES,
    uidDomain: env.UID_DOMAIN ?? new URL(publicBaseUrl).hostname,
    logLevel: env.LOG_LEVEL,
    encryptionKeys: encryptionKeys(env),
    role: env.ROLE,
    syncPacing: env.SYNC_PACING === 'on',
    google:
      env.GOOGLE_CLIENT_ID !== undefined && env.GOOGLE_CLIENT_SECRET !== undefined
        ? {
            clientId: env.GOOGLE_CLIENT_ID,
            clientSecret: env.GOOGLE_CLIENT_SECRET,
            authUrl: env.GOOGLE_AUTH_URL,
            tokenUrl: env.GOOGLE_TOKEN_URL,
            revokeUrl: env.GOOGLE_REVOKE_URL,
            apiUrl: env.GOOGLE_API_ROOT_URL,
            redirectUri: `${publicBaseUrl}/oauth/google/callback`,
          }
        : null,
    microsoft:
      env.MICROSOFT_CLIENT_ID !== undefined && env.MICROSOFT_CLIENT_SECRET !== undefined
        ? {
            clientId: env.MICROSOFT_CLIENT_ID,
            clientSecret: env.MICROSOFT_CLIENT_SECRET,
            tenant: env.MICROSOFT_TENANT,
            authUrl: env.MICROSOFT_LOGIN_URL,
            tokenUrl: env.MICROSOFT_LOGIN_URL,
            apiUrl: env.MICROSOFT_GRAPH_URL,
            redirectUri: `${publicBaseUrl}/oauth/microsoft/callback`,
          }
        : null,
    busy: { refreshMinutes: env.BUSY_REFRESH_MINUTES, maxBytes: env.BUSY_MAX_BYTES, allowHosts: env.BUSY_ALLOW_HOSTS },
  };
}
