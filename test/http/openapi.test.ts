import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type { App } from '../../src/http/app-listener.js';
import supertest from 'supertest';
import { createIcsReader } from '../../busy/index.js';
import { ErrorCode } from '../../src/domain/index.js';
import type { ConnectionKind, OAuthProvider } from '../../src/domain/index.js';
import { busySourceBody } from '../../src/http/busy-routes.js';
import { feedBody, locationBody, providerBody, seriesBody, sessionBody } from '../../src/http/schemas.js';
import type { IcsReader } from '../../src/domain/index.js';
import { ADMIN_TOKEN, createTestApp, PLATFORM_TOKEN, type TestApp } from '../support/test-app.js';

// openapi.json is written by hand; these tests keep it honest against the Express app (routes,
// auth), the zod request schemas (accept/reject tables) and the answers the app really gives.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const doc = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8')) as JsonObject;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asObject(value: unknown, where: string): JsonObject {
  if (!isObject(value)) throw new Error(`${where} is not an object`);
  return value;
}

/** Resolves a local reference ("#/components/schemas/Id"); undefined when it points nowhere. */
function resolvePointer(ref: string): Json | undefined {
  if (!ref.startsWith('#/')) return undefined;
  let node: Json | undefined = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObject(node) ? node[key] : Array.isArray(node) ? node[Number(key)] : undefined;
    if (node === undefined) return undefined;
  }
  return node;
}

function resolve(ref: string): Json {
  const target = resolvePointer(ref);
  if (target === undefined) throw new Error(`${ref} does not resolve`);
  return target;
}

/** A schema, parameter or response, following $ref (Reference Objects) to the real thing. */
function deref(value: unknown, where: string): JsonObject {
  const node = asObject(value, where);
  return typeof node['$ref'] === 'string' ? deref(resolve(node['$ref']), node['$ref']) : node;
}

// ---------------------------------------------------------------------------------------------
// A tiny JSON Schema 2020-12 validator for exactly the keywords openapi.json uses. Any other
// keyword throws, so the document cannot grow a rule that these tests silently ignore.

const ANNOTATIONS = new Set(['description', 'default', 'examples', 'format', 'discriminator', 'title']);
const ASSERTIONS = new Set([
  '$ref', 'type', 'properties', 'required', 'additionalProperties', 'enum', 'const', 'pattern', 'minLength', 'maxLength',
  'minimum', 'maximum', 'items', 'minItems', 'maxItems', 'uniqueItems', 'oneOf', 'anyOf', 'if', 'then',
]);

function hasType(value: unknown, type: Json): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number';
    case 'integer':
      return Number.isInteger(value);
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isObject(value);
    default:
      throw new Error(`unknown type ${JSON.stringify(type)}`);
  }
}

/**
 * Errors of `value` against `schema` (empty: valid). `closed` treats every object schema that
 * lists properties as `additionalProperties: false`, to catch answers with undocumented fields.
 */
function validate(schema: Json, value: unknown, path = '$', closed = false): string[] {
  const s = asObject(schema, `schema at ${path}`);
  for (const key of Object.keys(s)) {
    if (!ANNOTATIONS.has(key) && !ASSERTIONS.has(key)) throw new Error(`the test validator does not implement "${key}" (at ${path})`);
  }
  const errors: string[] = [];
  const check = (sub: Json, v: unknown, p: string) => validate(sub, v, p, closed);
  if (typeof s['$ref'] === 'string') errors.push(...check(resolve(s['$ref']), value, path));
  if (s['type'] !== undefined) {
    const types = Array.isArray(s['type']) ? s['type'] : [s['type']];
    if (!types.some((t) => hasType(value, t))) return [...errors, `${path}: expected ${types.join(' or ')}, got ${JSON.stringify(value)}`];
  }
  if ('const' in s && !isDeepStrictEqual(value, s['const'])) errors.push(`${path}: must be ${JSON.stringify(s['const'])}`);
  if (Array.isArray(s['enum']) && !s['enum'].some((e) => isDeepStrictEqual(e, value))) errors.push(`${path}: not one of ${JSON.stringify(s['enum'])}`);

  if (typeof value === 'string') {
    const length = [...value].length; // JSON Schema counts code points
    if (typeof s['minLength'] === 'number' && length < s['minLength']) errors.push(`${path}: shorter than ${s['minLength']}`);
    if (typeof s['maxLength'] === 'number' && length > s['maxLength']) errors.push(`${path}: longer than ${s['maxLength']}`);
    if (typeof s['pattern'] === 'string' && !new RegExp(s['pattern'], 'u').test(value)) errors.push(`${path}: does not match ${s['pattern']}`);
  }
  if (typeof value === 'number') {
    if (typeof s['minimum'] === 'number' && value < s['minimum']) errors.push(`${path}: below ${s['minimum']}`);
    if (typeof s['maximum'] === 'number' && value > s['maximum']) errors.push(`${path}: above ${s['maximum']}`);
  }
  if (Array.isArray(value)) {
    if (typeof s['minItems'] === 'number' && value.length < s['minItems']) errors.push(`${path}: fewer than ${s['minItems']} items`);
    if (typeof s['maxItems'] === 'number' && value.length > s['maxItems']) errors.push(`${path}: more than ${s['maxItems']} items`);
    if (s['uniqueItems'] === true && value.some((item, i) => value.slice(0, i).some((other) => isDeepStrictEqual(other, item)))) errors.push(`${path}: items are not unique`);
    const items = s['items'];
    if (items !== undefined) value.forEach((item, i) => errors.push(...check(items, item, `${path}[${i}]`)));
  }
  if (isObject(value)) {
    if (Array.isArray(s['required'])) {
      for (const key of s['required']) if (!(String(key) in value)) errors.push(`${path}: ${String(key)} is required`);
    }
    const properties = isObject(s['properties']) ? s['properties'] : {};
    for (const [key, sub] of Object.entries(properties)) {
      if (key in value) errors.push(...check(sub, value[key], `${path}.${key}`));
    }
    const extra = Object.keys(value).filter((key) => !(key in properties));
    const additional = s['additionalProperties'] ?? (closed && s['type'] === 'object' && 'properties' in s ? false : undefined);
    if (additional === false && extra.length > 0) errors.push(`${path}: unknown field(s) ${extra.join(', ')}`);
    if (isObject(additional)) for (const key of extra) errors.push(...check(additional, value[key], `${path}.${key}`));
  }
  if (Array.isArray(s['anyOf']) && !s['anyOf'].some((sub) => check(sub, value, path).length === 0)) {
    errors.push(`${path}: matches none of anyOf`);
  }
  if (Array.isArray(s['oneOf'])) {
    const matches = s['oneOf'].filter((sub) => check(sub, value, path).length === 0).length;
    if (matches !== 1) errors.push(`${path}: matches ${matches} of oneOf, not exactly one`);
  }
  const ifSchema = s['if'];
  const thenSchema = s['then'];
  if (ifSchema !== undefined && thenSchema !== undefined && check(ifSchema, value, path).length === 0) errors.push(...check(thenSchema, value, path));
  return errors;
}

function schema(name: string): Json {
  return resolve(`#/components/schemas/${name}`);
}

// ---------------------------------------------------------------------------------------------
// The document's operations and the app's routes.

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'trace'] as const;

interface Operation {
  method: string;
  path: string;
  op: JsonObject;
  pathItem: JsonObject;
}

function documentedOperations(): Operation[] {
  return Object.entries(asObject(doc['paths'], 'paths')).flatMap(([path, item]) => {
    const pathItem = asObject(item, path);
    return [...METHODS, 'head'].filter((m) => m in pathItem).map((method) => ({ method, path, op: asObject(pathItem[method], `${method} ${path}`), pathItem }));
  });
}

/** The bits of an Express 5 (router 2.x) layer this test reads. */
interface RouterLayer {
  name: string;
  /** The path given to app.use()/router.use() or the route (router >= 2.3). */
  rawPath?: unknown;
  route?: { path: unknown; methods: Record<string, boolean | undefined> };
  handle?: unknown;
}

function nestedStack(handle: unknown): readonly RouterLayer[] | null {
  const stack = typeof handle === 'function' ? (handle as { stack?: unknown }).stack : undefined;
  return Array.isArray(stack) ? (stack as RouterLayer[]) : null;
}

/**
 * "METHOD /path" for every route the app serves: those answered ahead of Express (the feeds,
 * src/http/app-listener.ts), then Express's, nested routers resolved through their mount paths.
 */
function appRoutes(app: App): string[] {
  const routes: string[] = [...app.aheadRoutes];
  const walk = (stack: readonly RouterLayer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route !== undefined) {
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on) routes.push(`${method.toUpperCase()} ${prefix}${String(layer.route.path)}`);
        }
        continue;
      }
      const nested = nestedStack(layer.handle);
      if (nested === null) continue; // plain middleware
      if (typeof layer.rawPath !== 'string') throw new Error(`router "${layer.name}" is mounted without a string path; list its prefix here by hand`);
      walk(nested, layer.rawPath === '/' ? prefix : `${prefix}${layer.rawPath}`);
    }
  };
  walk(app.express.router.stack as unknown as readonly RouterLayer[], '');
  return routes;
}

/** Express `:param` to OpenAPI `{param}`. */
function toOpenApiPath(expressPath: string): string {
  // The feed route takes the whole last segment and strips ".ics" itself; the document names the token.
  if (expressPath === '/feeds/:file') return '/feeds/{token}.ics';
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

const UUID = '0b6e4f3a-8d2c-4b1e-9f7a-2c3d4e5f6a7b';
const SAMPLE_PARAMS: Record<string, string> = {
  providerId: 'p1',
  locationId: 'video',
  sessionId: 's1',
  feedId: 'f1',
  sourceId: 'personal',
  connectionId: UUID,
  jobId: UUID,
  targetId: UUID,
  offboardingId: UUID,
  token: 'A'.repeat(43),
};

function concretePath(template: string): string {
  return template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const sample = SAMPLE_PARAMS[name];
    if (sample === undefined) throw new Error(`add a sample value for {${name}}`);
    return sample;
  });
}

function send(app: App, method: string, path: string): supertest.Test {
  const agent = supertest(app);
  switch (method) {
    case 'get':
      return agent.get(path);
    case 'head':
      return agent.head(path);
    case 'put':
      return agent.put(path);
    case 'post':
      return agent.post(path);
    case 'delete':
      return agent.delete(path);
    default:
      throw new Error(`no supertest call for ${method}`);
  }
}

function securityOf(op: JsonObject): JsonObject[] {
  const security = op['security'] ?? doc['security'];
  if (!Array.isArray(security)) throw new Error('security is not a list');
  return security.map((s, i) => asObject(s, `security[${i}]`));
}

/**
 * Asserts that `res` is an answer the document promises for `method template`: a documented
 * status, the documented media type, a body matching the schema (closed: no undocumented fields)
 * and documented constant headers.
 */
function assertDocumentedAnswer(method: string, template: string, res: supertest.Response): void {
  const label = `${method.toUpperCase()} ${template} -> ${res.status}`;
  const pathItem = asObject(asObject(doc['paths'], 'paths')[template], template);
  const responses = asObject(asObject(pathItem[method], label)['responses'], label);
  const documented = responses[String(res.status)];
  assert.ok(documented !== undefined, `${label} is not documented (documented: ${Object.keys(responses).join(', ')})`);
  const response = deref(documented, label);
  for (const [name, header] of Object.entries(isObject(response['headers']) ? response['headers'] : {})) {
    const expected = deref(asObject(header, name)['schema'], name)['const'];
    const actual = res.headers[name.toLowerCase()];
    if (expected !== undefined && actual !== undefined) assert.equal(actual, expected, `${label}: header ${name}`);
  }
  const content = isObject(response['content']) ? response['content'] : null;
  if (content === null || method === 'head') {
    assert.ok(!res.text, `${label}: documented without a body, but one came`);
    return;
  }
  const [mediaType, media] = Object.entries(content)[0] ?? [];
  assert.ok(mediaType !== undefined && media !== undefined, `${label}: empty content map`);
  assert.ok((res.headers['content-type'] ?? '').startsWith(mediaType), `${label}: ${res.headers['content-type']} is not ${mediaType}`);
  if (mediaType === 'application/json') {
    assert.deepEqual(validate(asObject(media, mediaType)['schema'] ?? null, res.body, '$', true), [], `${label}: ${JSON.stringify(res.body)}`);
  }
}

// ---------------------------------------------------------------------------------------------

interface SchemaCase {
  when: string;
  body: unknown;
  /** What the zod schema says. */
  valid: boolean;
  /** What the JSON Schema says, when it cannot express the zod rule (a refinement in code). */
  jsonSchemaValid?: boolean;
}

interface SafeParser {
  safeParse(value: unknown): { success: boolean };
}

const long = (n: number, c = 'x') => c.repeat(n);

describe('openapi.json', () => {
  it('when the document is loaded, then it is OpenAPI 3.1 and every $ref and discriminator mapping resolves inside it', () => {
    assert.match(String(doc['openapi']), /^3\.1\.\d+$/);
    const refs: string[] = [];
    const walk = (node: Json, key: string) => {
      if (Array.isArray(node)) node.forEach((n) => walk(n, key));
      else if (isObject(node)) Object.entries(node).forEach(([k, v]) => walk(v, k));
      else if (typeof node === 'string' && key === '$ref') refs.push(node);
    };
    walk(doc, '');
    const mappingRefs = Object.values(asObject(asObject(doc['components'], 'components')['schemas'], 'schemas')).flatMap((s) => {
      const discriminator = isObject(s) && isObject(s['discriminator']) ? s['discriminator'] : null;
      return discriminator && isObject(discriminator['mapping']) ? Object.values(discriminator['mapping']).map(String) : [];
    });
    assert.ok(refs.length > 50, `only ${refs.length} $refs found`);
    assert.ok(mappingRefs.length > 0);
    const broken = [...refs, ...mappingRefs].filter((ref) => resolvePointer(ref) === undefined);
    assert.deepEqual(broken, []);
  });

  it('when the schemas are walked, then they use only JSON Schema keywords the test validator implements', () => {
    const unsupported = new Set<string>();
    const walkSchema = (node: Json) => {
      if (!isObject(node)) return;
      for (const [key, value] of Object.entries(node)) {
        if (!ANNOTATIONS.has(key) && !ASSERTIONS.has(key)) unsupported.add(key);
        if (key === 'properties' && isObject(value)) Object.values(value).forEach(walkSchema);
        else if ((key === 'oneOf' || key === 'anyOf') && Array.isArray(value)) value.forEach(walkSchema);
        else if (key === 'items' || key === 'if' || key === 'then' || key === 'additionalProperties') walkSchema(value);
      }
    };
    // Named schemas, and inline ones under a "schema" key (parameters, headers, media types).
    const roots: Json[] = Object.values(asObject(asObject(doc['components'], 'components')['schemas'], 'schemas'));
    const findInline = (node: Json) => {
      if (Array.isArray(node)) node.forEach(findInline);
      else if (isObject(node)) Object.entries(node).forEach(([k, v]) => (k === 'schema' ? roots.push(v) : findInline(v)));
    };
    findInline(asObject(doc['paths'], 'paths'));
    findInline(asObject(asObject(doc['components'], 'components')['responses'], 'responses'));
    findInline(asObject(asObject(doc['components'], 'components')['parameters'], 'parameters'));
    assert.ok(roots.length > 100, `only ${roots.length} schemas found`);
    roots.forEach(walkSchema);
    assert.deepEqual([...unsupported], []);
  });

  it('when the error code enum is compared with src/domain/errors.ts, then they list the same codes', () => {
    const documented = deref(schema('ErrorCode'), 'ErrorCode')['enum'];
    assert.ok(Array.isArray(documented));
    assert.deepEqual([...documented].sort(), Object.values(ErrorCode).sort());
  });

  describe('against the Express app', () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await createTestApp();
    });
    afterEach(() => t.close());

    it('when the router stack is walked, then every route is documented and every documented operation is served', () => {
      // The portal's and admin console's HTML pages and their static files are not API: see README.
      const served = appRoutes(t.app).filter((r) => !/^[A-Z]+ \/(?:portal|admin|web)(?:\/|$)/.test(r)).map((r) => {
        const [method = '', path = ''] = r.split(' ');
        return `${method} ${toOpenApiPath(path)}`;
      });
      const operations = documentedOperations();
      const documented = operations.filter((o) => o.method !== 'head').map((o) => `${o.method.toUpperCase()} ${o.path}`);
      assert.deepEqual([...documented].sort(), [...served].sort());
      // HEAD is answered by the GET route (Express does that for every GET).
      for (const o of operations.filter((o) => o.method === 'head')) assert.ok(served.includes(`GET ${o.path}`), `HEAD ${o.path} has no GET route`);
    });

    it('when a path has {parameters}, then each is declared as a path parameter, and no other path parameter is', () => {
      for (const { method, path, op, pathItem } of documentedOperations()) {
        const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
        const declared = [pathItem['parameters'], op['parameters']]
          .flatMap((list) => (Array.isArray(list) ? list : []))
          .map((p, i) => deref(p, `${path} parameter ${i}`))
          .filter((p) => p['in'] === 'path')
          .map((p) => {
            assert.equal(p['required'], true, `${path}: path parameter ${String(p['name'])} must be required`);
            return String(p['name']);
          })
          .sort();
        assert.deepEqual(declared, inPath, `${method.toUpperCase()} ${path}`);
      }
    });

    it('when each operation is called without a token, with the platform token and with the admin token, then only the documented security applies', async () => {
      for (const { method, path, op } of documentedOperations()) {
        const security = securityOf(op);
        const label = `${method.toUpperCase()} ${path}`;
        const url = concretePath(path);
        const anonymous = await send(t.app, method, url);
        assert.equal(anonymous.status === 401, security.length > 0, `${label} without a token answered ${anonymous.status}`);

        const platformAllowed = security.length === 0 || security.some((s) => 'platformToken' in s);
        const platform = await send(t.app, method, url).set('Authorization', `Bearer ${PLATFORM_TOKEN}`);
        assert.equal(platform.status === 403, !platformAllowed, `${label} with the platform token answered ${platform.status}`);
        assert.notEqual(platform.status, 401, label);

        const admin = await send(t.app, method, url).set('Authorization', `Bearer ${ADMIN_TOKEN}`);
        assert.ok(admin.status !== 401 && admin.status !== 403, `${label} with the admin token answered ${admin.status}`);
        for (const res of [anonymous, platform, admin]) assertDocumentedAnswer(method, path, res);
      }
    });
  });

  describe('request bodies against the zod schemas', () => {
    const client = { id: 'c1', firstName: 'Jane', lastName: 'Doe' };
    const session = { start: '2026-12-01T10:00:00-05:00', durationMinutes: 50 };
    const series = { seriesId: 'weekly-jd', firstStart: '2026-10-19T10:00', durationMinutes: 50, frequency: 'weekly', count: 12 };
    const provider = { name: 'Dr. Ada Byron', timezone: 'America/New_York' };

    const tables: { name: string; zod: SafeParser; cases: SchemaCase[] }[] = [
      {
        name: 'ProviderInput',
        zod: providerBody,
        cases: [
          { when: 'only name and timezone are given', body: provider, valid: true },
          { when: 'every field is given', body: { ...provider, email: 'ada@example.org', privacy: { mode: 'initials', baaAttested: true } }, valid: true },
          { when: 'email is null and privacy mode is none', body: { ...provider, email: null, privacy: { mode: 'none' } }, valid: true },
          { when: 'the name is 200 characters inside surrounding spaces', body: { ...provider, name: `  ${long(200)}  ` }, valid: true },
          { when: 'the name is missing', body: { timezone: 'America/New_York' }, valid: false },
          { when: 'the name is blank', body: { ...provider, name: '   ' }, valid: false },
          { when: 'the name is 201 characters', body: { ...provider, name: long(201) }, valid: false },
          { when: 'a field is misspelled', body: { name: 'Dr. Ada Byron', timeZone: 'America/New_York' }, valid: false },
          { when: 'the email is not one', body: { ...provider, email: 'ada at example.org' }, valid: false },
          { when: 'the privacy mode is unknown', body: { ...provider, privacy: { mode: 'everything', baaAttested: true } }, valid: false },
          { when: 'privacy mode full lacks the BAA attestation', body: { ...provider, privacy: { mode: 'full' } }, valid: false },
          { when: 'privacy mode initials has baaAttested false', body: { ...provider, privacy: { mode: 'initials', baaAttested: false } }, valid: false },
          { when: 'privacy has an unknown field', body: { ...provider, privacy: { mode: 'none', baa: true } }, valid: false },
          { when: 'the body is an array', body: [provider], valid: false },
          // Checked against the tz database in code; the document can only say "string".
          { when: 'the time zone does not exist', body: { ...provider, timezone: 'Mars/Olympus_Mons' }, valid: false, jsonSchemaValid: true },
          { when: 'the time zone is spelled in lower case', body: { ...provider, timezone: 'america/new_york' }, valid: false, jsonSchemaValid: true },
          { when: 'the time zone is a backward link in its exact spelling', body: { ...provider, timezone: 'US/Eastern' }, valid: true },
          { when: 'the name holds a NUL', body: { ...provider, name: 'Dr. Ada\u0000 Byron' }, valid: false },
          { when: 'the name holds a tab inside', body: { ...provider, name: 'Dr. Ada\tByron' }, valid: false },
          { when: 'the name holds a C1 control (NEL)', body: { ...provider, name: 'Dr. Ada\u0085Byron' }, valid: false },
          { when: 'the name ends in a line break (trimmed)', body: { ...provider, name: 'Dr. Ada Byron\n' }, valid: true },
          { when: 'reminders are five distinct minutes within 0..40320', body: { ...provider, reminders: [0, 10, 60, 1440, 40320] }, valid: true },
          { when: 'reminders are empty (none)', body: { ...provider, reminders: [] }, valid: true },
          { when: 'reminders are null (the calendars\' defaults)', body: { ...provider, reminders: null }, valid: true },
          { when: 'reminders hold six', body: { ...provider, reminders: [1, 2, 3, 4, 5, 6] }, valid: false },
          { when: 'reminders repeat a number', body: { ...provider, reminders: [10, 10] }, valid: false },
          { when: 'a reminder is over 4 weeks', body: { ...provider, reminders: [40321] }, valid: false },
          { when: 'a reminder is negative', body: { ...provider, reminders: [-1] }, valid: false },
          { when: 'a reminder is a fraction', body: { ...provider, reminders: [2.5] }, valid: false },
          { when: 'reminders are a number', body: { ...provider, reminders: 10 }, valid: false },
        ],
      },
      {
        name: 'LocationInput',
        zod: locationBody,
        cases: [
          { when: 'a virtual location has only a url', body: { kind: 'virtual', url: 'https://doxy.me/drbyron' }, valid: true },
          {
            when: 'a virtual location has every field',
            body: { kind: 'virtual', name: 'Video', url: 'https://doxy.me/drbyron', instructions: 'Check in early.', isDefault: true, waitingRoom: null },
            valid: true,
          },
          { when: 'a virtual location has a blank name (it becomes null)', body: { kind: 'virtual', name: '  ', url: 'https://doxy.me/x' }, valid: true },
          // The link policy, not the schema, refuses it (TELEHEALTH_LINK_REJECTED).
          { when: 'the link is http', body: { kind: 'virtual', url: 'http://doxy.me/x' }, valid: true },
          { when: 'an office has a name and an address', body: { kind: 'office', name: 'Main St', address: '12 Example Street' }, valid: true },
          { when: 'the kind is missing', body: { url: 'https://doxy.me/x' }, valid: false },
          { when: 'the kind is unknown', body: { kind: 'phone', url: 'tel:+15551234567' }, valid: false },
          { when: 'an office has no address', body: { kind: 'office', name: 'Main St' }, valid: false },
          { when: 'an office has a url', body: { kind: 'office', name: 'Main St', address: '12 Example Street', url: 'https://doxy.me/x' }, valid: false },
          { when: 'a virtual location has an address', body: { kind: 'virtual', url: 'https://doxy.me/x', address: '12 Example Street' }, valid: false },
          { when: 'the url is empty', body: { kind: 'virtual', url: '' }, valid: false },
          { when: 'the url is over 10,000 characters', body: { kind: 'virtual', url: `https://doxy.me/${long(10_000)}` }, valid: false },
          { when: 'the instructions are 2,001 characters', body: { kind: 'virtual', url: 'https://doxy.me/x', instructions: long(2001) }, valid: false },
          { when: 'the instructions hold line breaks and a tab', body: { kind: 'virtual', url: 'https://doxy.me/x', instructions: 'Step 1:\tlog in.\r\nStep 2: wait.' }, valid: true },
          { when: 'the instructions hold an ESC', body: { kind: 'virtual', url: 'https://doxy.me/x', instructions: 'Wait \u001b[2J here.' }, valid: false },
          { when: 'the address holds a line break', body: { kind: 'office', name: 'Main St', address: '12 Example Street\nSuite 4' }, valid: true },
          { when: 'an office name holds a line break', body: { kind: 'office', name: 'Main\nSt', address: '12 Example Street' }, valid: false },
          { when: 'the address holds a DEL', body: { kind: 'office', name: 'Main St', address: '12 Example\u007f Street' }, valid: false },
          { when: 'isDefault is a string', body: { kind: 'office', name: 'Main St', address: '12 Example Street', isDefault: 'yes' }, valid: false },
        ],
      },
      {
        name: 'SessionInput',
        zod: sessionBody,
        cases: [
          { when: 'start and durationMinutes are given', body: session, valid: true },
          { when: 'start and end are given', body: { start: '2026-12-01T15:00:00Z', end: '2026-12-01T15:50:00Z' }, valid: true },
          { when: 'the offset is +05:30 with fractional seconds', body: { start: '2026-12-01T10:00:00.250+05:30', durationMinutes: 50 }, valid: true },
          {
            when: 'every field is given',
            body: { ...session, locationId: 'video', telehealthUrl: null, client, status: 'cancelled' },
            valid: true,
          },
          { when: 'the client is null and its fields may be null', body: { ...session, client: null }, valid: true },
          { when: 'the client has only null fields', body: { ...session, client: { id: null, firstName: null, lastName: null } }, valid: true },
          { when: 'both end and durationMinutes are given', body: { ...session, end: '2026-12-01T16:00:00Z' }, valid: false },
          { when: 'neither end nor durationMinutes is given', body: { start: session.start }, valid: false },
          { when: 'the start has no seconds', body: { start: '2026-12-01T15:00Z', durationMinutes: 50 }, valid: false },
          { when: 'the start has no offset', body: { start: '2026-12-01T15:00:00', durationMinutes: 50 }, valid: false },
          { when: 'the start is February 29 of a common year', body: { start: '2026-02-29T15:00:00Z', durationMinutes: 50 }, valid: false },
          { when: 'durationMinutes is 0', body: { ...session, durationMinutes: 0 }, valid: false },
          { when: 'durationMinutes is 1441', body: { ...session, durationMinutes: 1441 }, valid: false },
          { when: 'durationMinutes is not whole', body: { ...session, durationMinutes: 50.5 }, valid: false },
          { when: 'the locationId is 64 characters', body: { ...session, locationId: long(64, 'l') }, valid: true },
          { when: 'the locationId is 65 characters', body: { ...session, locationId: long(65, 'l') }, valid: false },
          { when: 'the locationId has a space', body: { ...session, locationId: 'main office' }, valid: false },
          { when: 'the status is unknown', body: { ...session, status: 'deleted' }, valid: false },
          { when: 'the client has an unknown field', body: { ...session, client: { ...client, email: 'jane@example.org' } }, valid: false },
          { when: 'the client first name is 101 characters', body: { ...session, client: { firstName: long(101) } }, valid: false },
          { when: 'the client last name holds a BEL', body: { ...session, client: { lastName: 'Doe\u0007' + 'x' } }, valid: false },
          // The instant range is checked in code: the document's pattern takes any year.
          { when: 'the start is at the earliest instant', body: { start: '1970-01-01T00:00:00Z', durationMinutes: 50 }, valid: true },
          { when: 'the end is at the latest instant', body: { start: '2199-12-31T23:10:00Z', end: '2200-01-01T00:00:00Z' }, valid: true },
          { when: 'the start is before 1970', body: { start: '1969-12-31T23:59:59Z', durationMinutes: 50 }, valid: false, jsonSchemaValid: true },
          { when: 'the start is in year 9999', body: { start: '9999-12-31T23:30:00Z', durationMinutes: 50 }, valid: false, jsonSchemaValid: true },
          { when: 'the duration ends the session after 2200', body: { start: '2199-12-31T23:30:00Z', durationMinutes: 50 }, valid: false, jsonSchemaValid: true },
          // Cross-field checks in code: end after start, at most 24 hours.
          { when: 'the end is before the start', body: { start: '2026-12-01T15:00:00Z', end: '2026-12-01T14:00:00Z' }, valid: false, jsonSchemaValid: true },
          { when: 'the session is 25 hours long', body: { start: '2026-12-01T15:00:00Z', end: '2026-12-02T16:00:00Z' }, valid: false, jsonSchemaValid: true },
        ],
      },
      {
        name: 'SeriesInput',
        zod: seriesBody,
        cases: [
          { when: 'a count is given', body: series, valid: true },
          { when: 'until is a local date', body: { ...series, count: undefined, until: '2027-01-11' }, valid: true },
          { when: 'until is a local date-time and the time zone is null', body: { ...series, count: undefined, until: '2027-01-11T10:00', timezone: null }, valid: true },
          { when: 'every optional field is given', body: { ...series, timezone: 'America/New_York', locationId: 'video', telehealthUrl: 'https://doxy.me/x', client }, valid: true },
          { when: 'both count and until are given', body: { ...series, until: '2027-01-11' }, valid: false },
          { when: 'neither count nor until is given', body: { ...series, count: undefined }, valid: false },
          { when: 'the seriesId is 61 characters', body: { ...series, seriesId: long(61, 's') }, valid: false },
          { when: 'firstStart has an offset', body: { ...series, firstStart: '2026-10-19T10:00:00Z' }, valid: false },
          { when: 'the frequency is monthly', body: { ...series, frequency: 'monthly' }, valid: false },
          { when: 'the count is 105', body: { ...series, count: 105 }, valid: false },
          { when: 'durationMinutes is missing', body: { ...series, durationMinutes: undefined }, valid: false },
          { when: 'a field is unknown', body: { ...series, endsOn: '2027-01-11' }, valid: false },
          { when: 'the time zone does not exist', body: { ...series, timezone: 'Nowhere/Special' }, valid: false, jsonSchemaValid: true },
          { when: 'the time zone is in upper case', body: { ...series, timezone: 'EUROPE/LONDON' }, valid: false, jsonSchemaValid: true },
        ],
      },
      {
        name: 'FeedInput',
        zod: feedBody,
        cases: [
          { when: 'the body is empty', body: {}, valid: true },
          { when: 'a label is given', body: { label: 'iPhone' }, valid: true },
          { when: 'the label is null', body: { label: null }, valid: true },
          { when: 'the label is 101 characters', body: { label: long(101) }, valid: false },
          { when: 'the label holds a line break', body: { label: 'i\nPhone' }, valid: false },
          { when: 'a field is unknown', body: { name: 'iPhone' }, valid: false },
        ],
      },
      {
        name: 'BusySourceInput',
        zod: busySourceBody,
        cases: [
          { when: 'an https ICS address is given', body: { kind: 'ics', url: 'https://calendar.example.com/cal.ics' }, valid: true },
          { when: 'a webcal address is given', body: { kind: 'ics', url: 'webcal://p01-caldav.icloud.com/published/2/abc' }, valid: true },
          { when: 'the url is 2,048 characters inside surrounding spaces', body: { kind: 'ics', url: ` https://calendar.example.com/${long(2048 - 29)}\n` }, valid: true },
          { when: 'the url is 2,049 characters', body: { kind: 'ics', url: `https://calendar.example.com/${long(2049 - 29)}` }, valid: false },
          { when: 'the url is empty', body: { kind: 'ics', url: '' }, valid: false },
          { when: 'the url is blank', body: { kind: 'ics', url: ' \t ' }, valid: false },
          { when: 'the url is not a string', body: { kind: 'ics', url: 42 }, valid: false },
          { when: 'the url is missing', body: { kind: 'ics' }, valid: false },
          // The address policy, not the schema, refuses these (400 VALIDATION_FAILED naming url).
          { when: 'the url is plain http', body: { kind: 'ics', url: 'http://calendar.example.com/cal.ics' }, valid: true },
          { when: 'the url carries credentials', body: { kind: 'ics', url: 'https://ada:secret@calendar.example.com/cal.ics' }, valid: true },
          { when: 'a connection is named', body: { kind: 'connection', connectionId: UUID }, valid: true },
          { when: 'the connectionId has a slash', body: { kind: 'connection', connectionId: 'c/1' }, valid: false },
          { when: 'the connectionId is missing', body: { kind: 'connection' }, valid: false },
          { when: 'an ICS source names a connection too', body: { kind: 'ics', url: 'https://calendar.example.com/cal.ics', connectionId: UUID }, valid: false },
          { when: 'a connection source has a url', body: { kind: 'connection', connectionId: UUID, url: 'https://calendar.example.com/cal.ics' }, valid: false },
          { when: 'the kind is missing', body: { url: 'https://calendar.example.com/cal.ics' }, valid: false },
          { when: 'the kind is unknown', body: { kind: 'caldav', url: 'https://calendar.example.com/cal.ics' }, valid: false },
          { when: 'the body is an array', body: [{ kind: 'ics', url: 'https://calendar.example.com/cal.ics' }], valid: false },
        ],
      },
    ];

    for (const { name, zod, cases } of tables) {
      it(`when ${name} bodies are checked by zod and by the document, then both accept and refuse the same ones`, () => {
        for (const c of cases) {
          // undefined stands for a field left out (JSON has no undefined).
          const body: unknown = JSON.parse(JSON.stringify(c.body));
          assert.equal(zod.safeParse(body).success, c.valid, `zod, when ${c.when}`);
          const errors = validate(schema(name), body);
          assert.equal(errors.length === 0, c.jsonSchemaValid ?? c.valid, `${name}, when ${c.when}: ${errors.join('; ') || 'accepted'}`);
        }
      });
    }

    // connectionBody and resyncBody are private to their router, so these go through HTTP: a
    // refused body is 400 VALIDATION_FAILED, an accepted one gets past validation.
    describe('through HTTP', () => {
      let t: TestApp;
      beforeEach(async () => {
        t = await createTestApp({ oauth: new Map([['google', stubOAuth('google')], ['outlook', stubOAuth('outlook')]]) });
        assert.equal((await t.platform.put('/api/v1/providers/p1', provider)).status, 201);
      });
      afterEach(() => t.close());

      const run = async (name: string, post: (body: unknown) => supertest.Test, requestBodyOf: JsonObject, cases: SchemaCase[]) => {
        for (const c of cases) {
          const res = await post(c.body);
          const accepted = !(res.status === 400 && res.body.error?.code === 'VALIDATION_FAILED');
          assert.equal(accepted, c.valid, `HTTP, when ${c.when}: ${res.status} ${JSON.stringify(res.body)}`);
          if (c.body === undefined) {
            assert.notEqual(requestBodyOf['required'], true, `${name}: the body is optional`);
            continue;
          }
          const errors = validate(schema(name), c.body);
          assert.equal(errors.length === 0, c.valid, `${name}, when ${c.when}: ${errors.join('; ') || 'accepted'}`);
        }
      };
      const requestBody = (path: string, method: string) =>
        deref(asObject(asObject(asObject(doc['paths'], 'paths')[path], path)[method], method)['requestBody'], 'requestBody');

      it('when ConnectionInput bodies are posted, then the app and the document accept and refuse the same ones', async () => {
        await run('ConnectionInput', (body) => t.platform.post('/api/v1/providers/p1/connections', body), requestBody('/api/v1/providers/{providerId}/connections', 'post'), [
          { when: 'only the kind is given', body: { kind: 'google' }, valid: true },
          { when: 'a calendarId is given', body: { kind: 'outlook', calendarId: 'work' }, valid: true },
          { when: 'the kind is unknown', body: { kind: 'icloud' }, valid: false },
          { when: 'the kind is missing', body: { calendarId: 'primary' }, valid: false },
          { when: 'the calendarId is blank', body: { kind: 'google', calendarId: '   ' }, valid: false },
          { when: 'a field is unknown', body: { kind: 'google', scope: 'all' }, valid: false },
        ]);
      });

      it('when ResyncInput bodies are posted, then the app and the document accept and refuse the same ones', async () => {
        await run('ResyncInput', (body) => t.admin.post('/api/v1/admin/resync', body), requestBody('/api/v1/admin/resync', 'post'), [
          { when: 'there is no body', body: undefined, valid: true },
          { when: 'the body is empty', body: {}, valid: true },
          { when: 'providers and a dry run are given', body: { providerIds: ['p1'], dryRun: true }, valid: true },
          { when: 'connection ids are given', body: { connectionIds: [UUID] }, valid: true },
          { when: 'the provider list is empty', body: { providerIds: [] }, valid: false },
          { when: 'a connection id is not a UUID', body: { connectionIds: ['c1'] }, valid: false },
          { when: 'a provider id has a slash', body: { providerIds: ['p/1'] }, valid: false },
          { when: 'dryRun is a string', body: { dryRun: 'yes' }, valid: false },
          { when: 'a field is unknown', body: { everything: true }, valid: false },
        ]);
      });
    });
  });

  describe('answers against the documented responses', () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await createTestApp({ oauth: new Map([['google', stubOAuth('google')]]), busy: { ics: stubIcs() } });
    });
    afterEach(() => t.close());

    const P = '/api/v1/providers/{providerId}';
    /** Asserts the status the scenario expects, then that the answer is the documented one. */
    const expect = (status: number, method: string, template: string, res: supertest.Response) => {
      assert.equal(res.status, status, `${method.toUpperCase()} ${template}: ${JSON.stringify(res.body)}`);
      assertDocumentedAnswer(method, template, res);
      return res;
    };

    it('when providers, locations, sessions, series and feeds are written and read, then every answer is documented and matches its schema', async () => {
      const provider = { name: 'Dr. Ada Byron', timezone: 'America/New_York' };
      expect(201, 'put', P, await t.platform.put('/api/v1/providers/p1', { ...provider, email: 'ada@example.org' }));
      expect(200, 'put', P, await t.platform.put('/api/v1/providers/p1', provider));
      expect(200, 'get', P, await t.platform.get('/api/v1/providers/p1'));
      expect(404, 'get', P, await t.platform.get('/api/v1/providers/nobody'));
      expect(400, 'put', P, await t.platform.put('/api/v1/providers/p1', { name: '' }));

      const L = `${P}/locations/{locationId}`;
      const video = { kind: 'virtual', url: 'https://doxy.me/drbyron', instructions: 'Check in early.' };
      expect(201, 'put', L, await t.platform.put('/api/v1/providers/p1/locations/video', video));
      expect(200, 'put', L, await t.platform.put('/api/v1/providers/p1/locations/video', { ...video, waitingRoom: true }));
      expect(201, 'put', L, await t.platform.put('/api/v1/providers/p1/locations/office', { kind: 'office', name: 'Main St', address: '12 Example Street' }));
      expect(201, 'put', L, await t.platform.put('/api/v1/providers/p1/locations/odd', { kind: 'virtual', url: 'https://meet.example.test/room' }));
      expect(400, 'put', L, await t.platform.put('/api/v1/providers/p1/locations/bad', { kind: 'virtual', url: 'facetime://ada@example.org' }));
      expect(200, 'get', `${P}/locations`, await t.platform.get('/api/v1/providers/p1/locations'));

      const S = `${P}/sessions/{sessionId}`;
      const s1 = { start: '2026-12-01T15:00:00Z', durationMinutes: 50, locationId: 'video', client: { firstName: 'Jane' } };
      expect(201, 'put', S, await t.platform.put('/api/v1/providers/p1/sessions/s1', s1));
      expect(200, 'put', S, await t.platform.put('/api/v1/providers/p1/sessions/s1', s1));
      expect(409, 'put', S, await t.platform.put('/api/v1/providers/p1/sessions/s2', { start: '2026-12-01T15:10:00Z', durationMinutes: 50, locationId: 'video' }));
      expect(200, 'get', S, await t.platform.get('/api/v1/providers/p1/sessions/s1'));
      expect(200, 'get', `${P}/sessions`, await t.platform.get('/api/v1/providers/p1/sessions?from=2026-11-01T00:00:00Z&to=2027-01-01T00:00:00Z'));
      expect(400, 'get', `${P}/sessions`, await t.platform.get('/api/v1/providers/p1/sessions?from=2026-11-01'));
      expect(200, 'get', `${S}/invite.ics`, await t.platform.get('/api/v1/providers/p1/sessions/s1/invite.ics'));
      expect(409, 'delete', L, await t.platform.delete('/api/v1/providers/p1/locations/video'));
      expect(204, 'delete', L, await t.platform.delete('/api/v1/providers/p1/locations/odd'));
      expect(404, 'delete', L, await t.platform.delete('/api/v1/providers/p1/locations/odd'));

      const series = { seriesId: 'weekly', firstStart: '2026-12-07T10:00', durationMinutes: 50, frequency: 'weekly', count: 3, locationId: 'office' };
      expect(201, 'post', `${P}/series`, await t.platform.post('/api/v1/providers/p1/series', series));
      expect(200, 'post', `${P}/series`, await t.platform.post('/api/v1/providers/p1/series', { ...series, count: 2 }));

      const created = expect(201, 'post', `${P}/feeds`, await t.platform.post('/api/v1/providers/p1/feeds', { label: 'iPhone' }));
      const kept = expect(201, 'post', `${P}/feeds`, await t.platform.post('/api/v1/providers/p1/feeds'));
      expect(200, 'get', `${P}/feeds`, await t.platform.get('/api/v1/providers/p1/feeds'));
      const feedPath = new URL(String(created.body.url)).pathname;
      const F = '/feeds/{token}.ics';
      const feed = expect(200, 'get', F, await supertest(t.app).get(feedPath));
      expect(304, 'get', F, await supertest(t.app).get(feedPath).set('If-None-Match', String(feed.headers['etag'])));
      expect(200, 'head', F, await supertest(t.app).head(feedPath));
      expect(204, 'delete', `${P}/feeds/{feedId}`, await t.platform.delete(`/api/v1/providers/p1/feeds/${String(created.body.id)}`));
      expect(404, 'get', F, await supertest(t.app).get(feedPath));
      expect(201, 'post', `${P}/portal-links`, await t.platform.post('/api/v1/providers/p1/portal-links'));
      expect(404, 'post', `${P}/portal-links`, await t.platform.post('/api/v1/providers/nobody/portal-links'));

      expect(204, 'delete', S, await t.platform.delete('/api/v1/providers/p1/sessions/s1'));
      expect(404, 'delete', S, await t.platform.delete('/api/v1/providers/p1/sessions/s1'));

      // Leaving: no calendar is connected, so the offboarding is finished at once (200).
      const O = '/api/v1/offboardings/{offboardingId}';
      const left = expect(200, 'post', `${P}/offboard`, await t.platform.post('/api/v1/providers/p1/offboard'));
      assert.deepEqual([left.body.mode, left.body.status, left.body.feedsTombstoned], ['offboard', 'done', 1]);
      expect(200, 'post', `${P}/offboard`, await t.platform.post('/api/v1/providers/p1/offboard'));
      expect(404, 'post', `${P}/offboard`, await t.platform.post('/api/v1/providers/nobody/offboard'));
      assert.notEqual(expect(200, 'get', P, await t.platform.get('/api/v1/providers/p1')).body.offboardedAt, null);
      const refused = expect(409, 'put', P, await t.platform.put('/api/v1/providers/p1', provider));
      assert.equal(refused.body.error.code, 'PROVIDER_OFFBOARDED');
      expect(409, 'put', S, await t.platform.put('/api/v1/providers/p1/sessions/s3', s1));
      expect(409, 'post', `${P}/feeds`, await t.platform.post('/api/v1/providers/p1/feeds'));
      expect(409, 'post', `${P}/portal-links`, await t.platform.post('/api/v1/providers/p1/portal-links'));
      const tombstone = new URL(String(kept.body.url)).pathname;
      expect(200, 'get', F, await supertest(t.app).get(tombstone));
      expect(200, 'get', `${P}/offboardings`, await t.platform.get('/api/v1/providers/p1/offboardings'));
      expect(200, 'get', O, await t.platform.get(`/api/v1/offboardings/${String(left.body.id)}`));
      expect(404, 'get', O, await t.platform.get(`/api/v1/offboardings/${UUID}`));
      // DELETE offboards then deletes: the record goes, the offboarding stays.
      assert.equal((await t.platform.put('/api/v1/providers/p2', provider)).status, 201);
      const deleted = expect(200, 'delete', P, await t.platform.delete('/api/v1/providers/p2'));
      assert.deepEqual([deleted.body.mode, deleted.body.status], ['delete', 'done']);
      expect(404, 'get', P, await t.platform.get('/api/v1/providers/p2'));
      expect(404, 'delete', P, await t.platform.delete('/api/v1/providers/p2'));
      const history = expect(200, 'get', `${P}/offboardings`, await t.platform.get('/api/v1/providers/p2/offboardings'));
      assert.deepEqual(history.body.offboardings.map((o: { id: unknown }) => o.id), [deleted.body.id]);
      t.clock.advance(31 * 24 * 3600 * 1000);
      expect(410, 'get', F, await supertest(t.app).get(tombstone));
      expect(410, 'head', F, await supertest(t.app).head(tombstone));
    });

    it('when a calendar is connected, reauthorized and disconnected, and admin routes are read, then every answer is documented and matches its schema', async () => {
      assert.equal((await t.platform.put('/api/v1/providers/p1', { name: 'Dr. Ada Byron', timezone: 'America/New_York' })).status, 201);
      const C = `${P}/connections`;
      const connection = expect(201, 'post', C, await t.platform.post('/api/v1/providers/p1/connections', { kind: 'google' }));
      expect(409, 'post', C, await t.platform.post('/api/v1/providers/p1/connections', { kind: 'outlook' }));
      const state = new URL(String(connection.body.authorizeUrl)).searchParams.get('state') ?? '';
      const callback = '/oauth/google/callback';
      expect(200, 'get', callback, await supertest(t.app).get(callback).query({ state, code: 'code-1' }));
      expect(400, 'get', callback, await supertest(t.app).get(callback).query({ state, code: 'code-1' }));
      expect(400, 'get', '/oauth/microsoft/callback', await supertest(t.app).get('/oauth/microsoft/callback'));
      expect(200, 'get', C, await t.platform.get('/api/v1/providers/p1/connections'));
      const id = String(connection.body.id);
      expect(200, 'post', `${C}/{connectionId}/reauthorize`, await t.platform.post(`/api/v1/providers/p1/connections/${id}/reauthorize`));
      // An authorised calendar: the worker (not running here) removes our events, so 202 and the same again.
      expect(202, 'delete', `${C}/{connectionId}`, await t.platform.delete(`/api/v1/providers/p1/connections/${id}?removeEvents=true`));
      expect(202, 'delete', `${C}/{connectionId}`, await t.platform.delete(`/api/v1/providers/p1/connections/${id}`));
      expect(200, 'get', C, await t.platform.get('/api/v1/providers/p1/connections'));
      const underWay = expect(409, 'post', `${C}/{connectionId}/reauthorize`, await t.platform.post(`/api/v1/providers/p1/connections/${id}/reauthorize`));
      assert.equal(underWay.body.error.code, 'CONNECTION_CLEANUP_UNDER_WAY');
      // One never authorised has nothing to remove: disconnected at once (200), then gone.
      const fresh = String(expect(201, 'post', C, await t.platform.post('/api/v1/providers/p1/connections', { kind: 'google' })).body.id);
      expect(200, 'delete', `${C}/{connectionId}`, await t.platform.delete(`/api/v1/providers/p1/connections/${fresh}`));
      expect(404, 'delete', `${C}/{connectionId}`, await t.platform.delete(`/api/v1/providers/p1/connections/${fresh}`));

      const job = expect(202, 'post', '/api/v1/admin/resync', await t.admin.post('/api/v1/admin/resync', { dryRun: true }));
      expect(200, 'get', '/api/v1/admin/jobs/{jobId}', await t.admin.get(`/api/v1/admin/jobs/${String(job.body.jobId)}`));
      expect(404, 'get', '/api/v1/admin/jobs/{jobId}', await t.admin.get(`/api/v1/admin/jobs/${UUID}`));
      expect(200, 'get', '/api/v1/admin/sync-health', await t.admin.get('/api/v1/admin/sync-health'));
      expect(404, 'post', '/api/v1/admin/targets/{targetId}/retry', await t.admin.post(`/api/v1/admin/targets/${UUID}/retry`));
      const audit = expect(200, 'get', '/api/v1/admin/audit', await t.admin.get('/api/v1/admin/audit?limit=10'));
      assert.ok(audit.body.entries.length >= 2, 'the disconnect and the resync are audited');
      expect(400, 'get', '/api/v1/admin/audit', await t.admin.get('/api/v1/admin/audit?limit=0'));
      expect(200, 'get', '/healthz', await supertest(t.app).get('/healthz'));
      expect(200, 'get', '/readyz', await supertest(t.app).get('/readyz'));
    });

    it('when busy sources are added, read, listed and removed, and sessions are written over busy time, then every answer is documented and matches its schema', async () => {
      assert.equal((await t.platform.put('/api/v1/providers/p1', { name: 'Dr. Ada Byron', timezone: 'America/New_York' })).status, 201);
      const B = `${P}/busy-sources/{sourceId}`;
      const source = (id: string) => `/api/v1/providers/p1/busy-sources/${id}`;
      const ics = { kind: 'ics', url: 'https://calendar.example.com/cal.ics' };
      const created = expect(201, 'put', B, await t.platform.put(source('personal'), ics));
      assert.equal(created.body.host, 'calendar.example.com');
      expect(200, 'put', B, await t.platform.put(source('personal'), ics));
      expect(201, 'put', B, await t.platform.put(source('old'), { kind: 'ics', url: 'webcal://calendar.example.com/gone.ics' }));
      const http = expect(400, 'put', B, await t.platform.put(source('plain'), { kind: 'ics', url: 'http://calendar.example.com/cal.ics' }));
      assert.equal(http.body.error.details[0].path, 'url');
      expect(400, 'put', B, await t.platform.put(source('plain'), { kind: 'ics', url: 'https://ada:secret@calendar.example.com/cal.ics' }));
      expect(400, 'put', B, await t.platform.put(source('plain'), { kind: 'ics' }));
      const unknownConnection = expect(404, 'put', B, await t.platform.put(source('work'), { kind: 'connection', connectionId: UUID }));
      assert.equal(unknownConnection.body.error.code, 'CONNECTION_NOT_FOUND');
      expect(404, 'put', B, await t.platform.put('/api/v1/providers/nobody/busy-sources/personal', ics));

      // The stub reader (no network): gone.ics answers 404, every other address one busy interval.
      const R = `${B}/refresh`;
      const read = expect(200, 'post', R, await t.platform.post(`${source('personal')}/refresh`));
      assert.deepEqual([read.body.status, read.body.lastError, read.body.intervals], ['ok', null, 1]);
      const failed = expect(200, 'post', R, await t.platform.post(`${source('old')}/refresh`));
      assert.deepEqual([failed.body.status, failed.body.lastError], ['error', 'SOURCE_HTTP_404']);
      expect(404, 'post', R, await t.platform.post(`${source('missing')}/refresh`));
      const listed = expect(200, 'get', `${P}/busy-sources`, await t.platform.get('/api/v1/providers/p1/busy-sources'));
      assert.equal(listed.body.busySources.length, 2);
      expect(404, 'get', `${P}/busy-sources`, await t.platform.get('/api/v1/providers/nobody/busy-sources'));

      const busy = expect(200, 'get', `${P}/busy`, await t.platform.get('/api/v1/providers/p1/busy?from=2026-12-01T00:00:00-05:00&to=2026-12-02T00:00:00-05:00'));
      assert.deepEqual(busy.body.busy, [{ start: '2026-12-01T15:30:00.000Z', end: '2026-12-01T17:00:00.000Z', sourceIds: ['personal'] }]);
      const wide = expect(400, 'get', `${P}/busy`, await t.platform.get('/api/v1/providers/p1/busy?from=2026-12-01T00:00:00Z&to=2027-06-01T00:00:00Z'));
      assert.equal(wide.body.error.details[0].path, 'to');
      expect(400, 'get', `${P}/busy`, await t.platform.get('/api/v1/providers/p1/busy?from=2026-12-01T00:00:00Z'));
      expect(404, 'get', `${P}/busy`, await t.platform.get('/api/v1/providers/nobody/busy?from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z'));

      // A per-session link to an unknown video platform gives string advice; busy time a BusyConflict beside it.
      assert.equal((await t.platform.put('/api/v1/providers/p1/locations/video', { kind: 'virtual', url: 'https://doxy.me/drbyron' })).status, 201);
      const S = `${P}/sessions/{sessionId}`;
      const session = expect(201, 'put', S, await t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-12-01T15:00:00Z', durationMinutes: 50, telehealthUrl: 'https://meet.example.test/s1' }));
      const warnings = session.body.warnings as unknown[];
      assert.ok(warnings.some((w) => typeof w === 'string'), JSON.stringify(warnings));
      const conflicts = warnings.filter((w): w is { message: unknown } => typeof w === 'object' && w !== null).map(({ message: _message, ...rest }) => rest);
      assert.deepEqual(conflicts, [{ code: 'BUSY_CONFLICT', from: '2026-12-01T15:30:00.000Z', to: '2026-12-01T15:50:00.000Z', sourceIds: ['personal'] }]);
      const series = { seriesId: 'weekly', firstStart: '2026-12-01T11:00', durationMinutes: 50, frequency: 'weekly', count: 2, telehealthUrl: 'https://meet.example.test/weekly' };
      const written = expect(201, 'post', `${P}/series`, await t.platform.post('/api/v1/providers/p1/series', series));
      const advice = written.body.warnings as unknown[];
      assert.ok(advice.some((w) => typeof w === 'string') && advice.some((w) => typeof w === 'object' && w !== null && (w as { code?: unknown }).code === 'BUSY_CONFLICT'), JSON.stringify(advice));

      expect(204, 'delete', B, await t.platform.delete(source('personal')));
      expect(404, 'delete', B, await t.platform.delete(source('personal')));
      expect(204, 'delete', B, await t.platform.delete(source('old')));
      expect(404, 'delete', B, await t.platform.delete('/api/v1/providers/nobody/busy-sources/old'));
    });
  });
});

/**
 * The busy sources' ICS side without the network: the real address policy, and a read that
 * answers HTTP 404 for /gone.ics and one busy interval for any other address.
 */
function stubIcs(): IcsReader {
  const policy = createIcsReader({ allowHosts: new Set(), maxBytes: 1024 * 1024, uidDomain: 'sync.example.test' });
  return {
    normalize: (url) => policy.normalize(url),
    read: (url) =>
      Promise.resolve(
        url.pathname === '/gone.ics'
          ? { status: 'error', code: 'SOURCE_HTTP_404' }
          : { status: 'ok', intervals: [{ start: '2026-12-01T15:30:00.000Z', end: '2026-12-01T17:00:00.000Z' }], truncated: false, etag: '"v1"', lastModified: null },
      ),
  };
}

/** An OAuthProvider port that grants every code: enough to walk the connection routes. */
function stubOAuth(kind: ConnectionKind): OAuthProvider {
  return {
    kind,
    authorizeUrl: ({ state, codeChallenge }) => `https://accounts.example.test/${kind}/authorize?state=${encodeURIComponent(state)}&code_challenge=${codeChallenge}`,
    exchangeCode: () =>
      Promise.resolve({ tokens: { accessToken: 'access', refreshToken: 'refresh', expiresAt: null, scope: null }, accountEmail: 'provider@example.org' }),
    revoke: () => Promise.resolve('revoked'),
  };
}
