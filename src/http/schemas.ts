import { z } from 'zod';
import {
  canonicalTimeZone,
  forbiddenCharacterIn,
  INSTANT_RANGE_MESSAGE,
  isInstantInRange,
  isValidTimeZone,
  LATEST_INSTANT,
  MAX_REMINDER_MINUTES,
  MAX_REMINDERS,
  validationError,
} from '../domain/index.js';
import type { TextKind } from '../domain/index.js';
import type { ErrorDetail } from '../domain/index.js';
import type { LocationInput } from '../services/location-service.js';
import type { ProviderInput } from '../services/provider-service.js';
import type { SeriesInput, SessionInput } from '../services/session-service.js';

// Request schemas. Objects are strict: an unknown key is reported by name rather than ignored,
// so a typo ("telehealthURL") never silently drops data.

const MAX_SESSION_MS = 24 * 60 * 60 * 1000;

export const idSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z, a-z, 0-9, _ or -');

/** Trimmed free text of `kind`, a control character inside it refused by code point (domain/text.ts). */
function printable(max: number, kind: TextKind) {
  return z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      const bad = forbiddenCharacterIn(value, kind);
      if (bad !== null) {
        const allowed = kind === 'multiline' ? 'control characters other than tab and line breaks' : 'control characters, tabs or line breaks';
        ctx.addIssue({ code: 'custom', message: `must not contain ${allowed} (found ${bad})` });
      }
    })
    .max(max, `must be at most ${max} characters`);
}
export const text = (max: number, kind: TextKind = 'line') => printable(max, kind).min(1, 'must not be empty');
const optionalText = (max: number, kind: TextKind = 'line') => printable(max, kind).nullish().transform((v) => (v ? v : null));
const instant = z.iso
  .datetime({ offset: true, message: 'must be an ISO-8601 date-time with an offset or Z, e.g. 2026-11-02T15:00:00Z' })
  .refine((value) => isInstantInRange(Date.parse(value)), INSTANT_RANGE_MESSAGE);
// Zones are refused unless spelled exactly as the renderer knows them, naming the right spelling,
// rather than rewritten: the answer and the stored row then always hold what the caller sent.
const timezone = z.string().superRefine((zone, ctx) => {
  if (isValidTimeZone(zone)) return;
  const canonical = canonicalTimeZone(zone);
  ctx.addIssue({
    code: 'custom',
    message: canonical !== null ? `must be spelled "${canonical}"` : 'must be an IANA time zone name such as "America/New_York"',
  });
});

const clientSchema = z
  .strictObject({ id: optionalText(64), firstName: optionalText(100), lastName: optionalText(100) })
  .nullish()
  .transform((c) => (c ? { id: c.id, firstName: c.firstName, lastName: c.lastName } : null));

/** Popup reminders, minutes before the start, within Google's limits (5 overrides, 4 weeks); null: the calendar's defaults. */
const reminders = z
  .array(
    z
      .number()
      .int('must be whole minutes')
      .min(0, 'must be 0 or more minutes')
      .max(MAX_REMINDER_MINUTES, `must be at most ${MAX_REMINDER_MINUTES} minutes (4 weeks)`),
  )
  .max(MAX_REMINDERS, `must hold at most ${MAX_REMINDERS} reminders`)
  .refine((minutes) => new Set(minutes).size === minutes.length, 'must not repeat a number of minutes')
  .nullable();

export const providerBody = z
  .strictObject({
    name: text(200),
    email: z.email('must be an email address').max(320).nullish(),
    timezone,
    privacy: z
      .strictObject({ mode: z.enum(['none', 'initials', 'full']).default('none'), baaAttested: z.boolean().default(false) })
      .default({ mode: 'none', baaAttested: false }),
    // Absent: unchanged for an existing provider, 'stable' for a new one (ProviderService.put).
    joinLink: z.enum(['stable', 'direct']).optional(),
    // Absent: unchanged for an existing provider, null (the calendar's defaults) for a new one.
    reminders: reminders.optional(),
  })
  .superRefine((p, ctx) => {
    if (p.privacy.mode !== 'none' && !p.privacy.baaAttested) {
      ctx.addIssue({
        code: 'custom',
        path: ['privacy', 'baaAttested'],
        message: `must be true for privacy mode "${p.privacy.mode}": client identity may reach an external calendar only under a signed BAA`,
      });
    }
  })
  .transform(
    (p): ProviderInput => ({
      name: p.name,
      email: p.email ?? null,
      timezone: p.timezone,
      privacy: p.privacy,
      ...(p.joinLink !== undefined ? { joinLink: p.joinLink } : {}),
      ...(p.reminders !== undefined ? { reminders: p.reminders } : {}),
    }),
  );

export const locationBody = z
  .discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('virtual'),
      name: optionalText(200),
      // Length and scheme are the link policy's to judge, so they answer TELEHEALTH_LINK_REJECTED.
      url: z.string().min(1, 'must not be empty').max(10_000),
      instructions: optionalText(2000, 'multiline'),
      isDefault: z.boolean().optional(),
      waitingRoom: z.boolean().nullish(),
    }),
    z.strictObject({ kind: z.literal('office'), name: text(200), address: text(500, 'multiline'), isDefault: z.boolean().optional() }),
  ], { error: 'must be "virtual" or "office"' })
  .transform((l): LocationInput =>
    l.kind === 'virtual'
      ? { kind: 'virtual', name: l.name, url: l.url, instructions: l.instructions, waitingRoom: l.waitingRoom ?? null, ...(l.isDefault !== undefined ? { isDefault: l.isDefault } : {}) }
      : { kind: 'office', name: l.name, address: l.address, ...(l.isDefault !== undefined ? { isDefault: l.isDefault } : {}) },
  );

export const sessionBody = z
  .strictObject({
    start: instant,
    end: instant.optional(),
    durationMinutes: z.number().int().min(1).max(1440).optional(),
    locationId: idSchema.nullish(),
    telehealthUrl: z.string().min(1).max(10_000).nullish(),
    client: clientSchema,
    status: z.enum(['scheduled', 'cancelled']).default('scheduled'),
  })
  .superRefine((s, ctx) => {
    if ((s.end === undefined) === (s.durationMinutes === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['end'], message: 'give exactly one of end or durationMinutes' });
      return;
    }
    if (s.end !== undefined) {
      const ms = Date.parse(s.end) - Date.parse(s.start);
      if (ms <= 0) ctx.addIssue({ code: 'custom', path: ['end'], message: 'must be after start' });
      else if (ms > MAX_SESSION_MS) ctx.addIssue({ code: 'custom', path: ['end'], message: 'must be at most 24 hours after start' });
    } else if (!isInstantInRange(Date.parse(s.start) + (s.durationMinutes ?? 0) * 60_000)) {
      ctx.addIssue({ code: 'custom', path: ['durationMinutes'], message: `must end the session by ${LATEST_INSTANT}` });
    }
  })
  .transform((s): SessionInput => {
    const start = new Date(s.start);
    const end = s.end !== undefined ? new Date(s.end) : new Date(start.getTime() + (s.durationMinutes ?? 0) * 60_000);
    return {
      start: start.toISOString(),
      end: end.toISOString(),
      locationId: s.locationId ?? null,
      telehealthUrl: s.telehealthUrl ?? null,
      client: s.client,
      status: s.status,
    };
  });

export const seriesBody = z
  .strictObject({
    // Leaves room for the "-<n>" suffix of the session ids within the 64-character limit.
    seriesId: z.string().regex(/^[A-Za-z0-9_-]{1,60}$/, 'must be 1-60 characters of A-Z, a-z, 0-9, _ or -'),
    firstStart: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/, 'must be a local date-time without offset, e.g. 2026-10-19T10:00'),
    timezone: timezone.nullish(),
    durationMinutes: z.number().int().min(1).max(1440),
    frequency: z.enum(['weekly', 'biweekly']),
    count: z.number().int().min(1).max(104).optional(),
    until: z.string().regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?$/, 'must be a local date (YYYY-MM-DD) or date-time without offset').optional(),
    locationId: idSchema.nullish(),
    telehealthUrl: z.string().min(1).max(10_000).nullish(),
    client: clientSchema,
  })
  .superRefine((s, ctx) => {
    if ((s.count === undefined) === (s.until === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['count'], message: 'give exactly one of count or until' });
    }
  })
  .transform(
    (s): SeriesInput => ({
      seriesId: s.seriesId,
      firstStart: s.firstStart,
      timezone: s.timezone ?? null,
      durationMinutes: s.durationMinutes,
      frequency: s.frequency,
      count: s.count ?? null,
      until: s.until ?? null,
      locationId: s.locationId ?? null,
      telehealthUrl: s.telehealthUrl ?? null,
      client: s.client,
    }),
  );

export const feedBody = z
  .strictObject({ label: optionalText(100) })
  .default({ label: null })
  .transform((f) => ({ label: f.label ?? null }));

export const sessionRangeQuery = z
  .strictObject({ from: instant.optional(), to: instant.optional() })
  .superRefine((q, ctx) => {
    if (q.from !== undefined && q.to !== undefined && Date.parse(q.from) >= Date.parse(q.to)) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
    }
  })
  .transform((q) => ({
    ...(q.from !== undefined ? { from: new Date(q.from).toISOString() } : {}),
    ...(q.to !== undefined ? { to: new Date(q.to).toISOString() } : {}),
  }));

/** Parses `value` or throws VALIDATION_FAILED with one detail per bad field, prefixed by `where`. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, where?: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details: ErrorDetail[] = result.error.issues.map((issue) => {
    const path = [...(where ? [where] : []), ...issue.path.map(String)].join('.');
    const message =
      issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message;
    return { path: path === '' ? '(body)' : path, message };
  });
  throw validationError(details);
}
