// Raw HTTP and openapi.json walking for test/http/hostile-input.test.ts. Requests go out through
// node:http against a real listener so that paths, headers and body bytes reach the app exactly as
// written (no client re-encodes a path, re-serialises a Buffer or adds a Content-Encoding).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { App } from '../../src/http/app-listener.js';

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Send the body with Transfer-Encoding: chunked instead of Content-Length. */
  chunked?: boolean;
}

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  bytes: Buffer;
  text: string;
}

export interface RawClient {
  send(request: RawRequest): Promise<RawAnswer>;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 at a port the OS picks; close() stops the listener and its sockets. */
export async function listen(app: App): Promise<RawClient> {
  const server = http.createServer(app).listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  return {
    send: ({ method, path, headers = {}, body, chunked = false }) =>
      new Promise<RawAnswer>((resolve, reject) => {
        const bytes = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
        const lengthHeader: Record<string, string> = bytes !== undefined && !chunked ? { 'Content-Length': String(bytes.length) } : {};
        const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers: { ...headers, ...lengthHeader } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const all = Buffer.concat(chunks);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes: all, text: all.toString('utf8') });
          });
          res.on('error', reject);
        });
        req.on('error', reject);
        if (bytes !== undefined && chunked) {
          // Two chunks, so that no Content-Length is known up front.
          const half = Math.floor(bytes.length / 2);
          req.write(bytes.subarray(0, half));
          req.end(bytes.subarray(half));
        } else {
          req.end(bytes);
        }
      }),
    close: async () => {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The error contract for bad input.

export interface ErrorDetailJson {
  path: string;
  message: string;
}

export interface ErrorJson {
  code: string;
  message: string;
  details?: unknown;
}

export interface ExpectedError {
  status?: number;
  code?: string;
  /** Some detail's path is one of these (details must then be a [{ path, message }] list). */
  path?: string | readonly string[] | ((path: string) => boolean);
  /** Some detail's message contains this. */
  message?: string;
}

const SCREAMING_SNAKE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describeAnswer(res: RawAnswer): string {
  return `${res.status} ${res.headers['content-type'] ?? '(no content-type)'} ${res.text.slice(0, 600)}`;
}

/**
 * Asserts that `res` is an answer to bad input: 4xx, JSON, Cache-Control: no-store and
 * { error: { code, message, details? } }, plus what `expected` names. Returns the error.
 */
export function assertErrorAnswer(res: RawAnswer, expected: ExpectedError = {}, label = ''): ErrorJson {
  const where = `${label ? `${label}: ` : ''}${describeAnswer(res)}`;
  assert.ok(res.status >= 400 && res.status <= 499, `expected a 4xx, got ${where}`);
  if (expected.status !== undefined) assert.equal(res.status, expected.status, `status: ${where}`);
  assert.match(res.headers['content-type'] ?? '', /^application\/json\b/, `content-type: ${where}`);
  assert.equal(res.headers['cache-control'], 'no-store', `cache-control: ${where}`);
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    assert.fail(`the body is not JSON: ${where}`);
  }
  assert.ok(isRecord(body) && Object.keys(body).join() === 'error' && isRecord(body['error']), `shape { error }: ${where}`);
  const error = body['error'];
  const extra = Object.keys(error).filter((k) => !['code', 'message', 'details'].includes(k));
  assert.deepEqual(extra, [], `undocumented error fields: ${where}`);
  const { code, message, details } = error;
  assert.ok(typeof code === 'string' && SCREAMING_SNAKE.test(code), `error.code: ${where}`);
  assert.ok(typeof message === 'string' && message.length > 0, `error.message: ${where}`);
  if (expected.code !== undefined) assert.equal(code, expected.code, `error.code: ${where}`);
  if (expected.path !== undefined || expected.message !== undefined) {
    assert.ok(
      Array.isArray(details) && details.length > 0 && details.every((d) => isRecord(d) && typeof d['path'] === 'string' && typeof d['message'] === 'string'),
      `details must be a non-empty [{ path, message }] list: ${where}`,
    );
    const list = details as ErrorDetailJson[];
    const wanted = expected.path;
    const pathOk = (p: string) =>
      wanted === undefined ? true : typeof wanted === 'function' ? wanted(p) : typeof wanted === 'string' ? p === wanted : wanted.includes(p);
    const messageOk = (m: string) => expected.message === undefined || m.includes(expected.message);
    assert.ok(
      list.some((d) => pathOk(d.path) && messageOk(d.message)),
      `no detail with path ${typeof wanted === 'function' ? '(predicate)' : JSON.stringify(wanted)}${expected.message !== undefined ? ` and a message containing ${JSON.stringify(expected.message)}` : ''}: ${where}`,
    );
  }
  return { code, message, ...(details !== undefined ? { details } : {}) };
}

// ---------------------------------------------------------------------------------------------
// openapi.json: the operations, their parameters and request body schemas.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

const doc = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8')) as JsonObject;

export function isJsonObject(value: unknown): value is JsonObject {
  return isRecord(value);
}

function resolve(ref: string): Json {
  assert.ok(ref.startsWith('#/'), `only local $refs: ${ref}`);
  let node: Json | undefined = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = isJsonObject(node) ? node[key] : undefined;
  }
  assert.ok(node !== undefined, `${ref} does not resolve`);
  return node;
}

/** A schema or parameter, following $ref to the real thing. */
export function deref(value: Json | undefined): JsonObject {
  assert.ok(isJsonObject(value), `not an object: ${JSON.stringify(value)}`);
  return typeof value['$ref'] === 'string' ? deref(resolve(value['$ref'])) : value;
}

export type Caller = 'admin' | 'platform' | 'public';

export interface Operation {
  method: 'get' | 'head' | 'put' | 'post' | 'delete';
  /** The documented path, e.g. /api/v1/providers/{providerId}. */
  template: string;
  pathParams: string[];
  queryParams: { name: string; schema: JsonObject }[];
  /** The application/json request body schema (dereferenced), or null. */
  body: JsonObject | null;
  caller: Caller;
}

const METHODS = ['get', 'head', 'put', 'post', 'delete'] as const;

function callerOf(op: JsonObject): Caller {
  const security = op['security'] ?? doc['security'];
  assert.ok(Array.isArray(security), 'security is a list');
  if (security.length === 0) return 'public';
  const schemes = security.flatMap((s) => (isJsonObject(s) ? Object.keys(s) : []));
  return schemes.includes('platformToken') ? 'platform' : 'admin';
}

export function documentedOperations(): Operation[] {
  const paths = doc['paths'];
  assert.ok(isJsonObject(paths));
  return Object.entries(paths).flatMap(([template, item]) => {
    const pathItem = deref(item);
    const shared = Array.isArray(pathItem['parameters']) ? pathItem['parameters'] : [];
    const documented = METHODS.filter((m) => m in pathItem);
    for (const m of Object.keys(pathItem)) {
      assert.ok([...METHODS, 'parameters', 'summary', 'description'].includes(m), `${template}: the test does not know method "${m}"`);
    }
    return documented.map((method): Operation => {
      const op = deref(pathItem[method]);
      const own = Array.isArray(op['parameters']) ? op['parameters'] : [];
      const params = [...shared, ...own].map((p) => deref(p));
      const content = op['requestBody'] === undefined ? undefined : deref(op['requestBody'])['content'];
      const media = isJsonObject(content) ? content['application/json'] : undefined;
      return {
        method,
        template,
        pathParams: params.filter((p) => p['in'] === 'path').map((p) => String(p['name'])),
        queryParams: params.filter((p) => p['in'] === 'query').map((p) => ({ name: String(p['name']), schema: deref(p['schema']) })),
        body: isJsonObject(media) ? deref(media['schema']) : null,
        caller: callerOf(op),
      };
    });
  });
}

export type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'array' | 'object' | 'null';

/** The JSON types a schema admits (through $ref, type, const, enum, anyOf and oneOf). */
export function admittedTypes(schema: JsonObject): Set<JsonType> {
  const s = deref(schema);
  const types = new Set<JsonType>();
  const type = s['type'];
  if (typeof type === 'string') types.add(type as JsonType);
  if (Array.isArray(type)) for (const t of type) types.add(t as JsonType);
  const typeOfValue = (v: Json): JsonType => (v === null ? 'null' : Array.isArray(v) ? 'array' : (typeof v as JsonType));
  if ('const' in s) types.add(typeOfValue(s['const'] ?? null));
  if (Array.isArray(s['enum'])) for (const v of s['enum']) types.add(typeOfValue(v));
  for (const key of ['anyOf', 'oneOf'] as const) {
    const list = s[key];
    if (Array.isArray(list)) for (const sub of list) for (const t of admittedTypes(deref(sub))) types.add(t);
  }
  if (types.has('integer')) types.add('number');
  return types;
}

/** The object schema among s, its anyOf/oneOf branches, that has properties; null when none. */
export function objectSchemaOf(schema: JsonObject): JsonObject | null {
  const s = deref(schema);
  if (isJsonObject(s['properties'])) return s;
  for (const key of ['anyOf', 'oneOf'] as const) {
    const list = s[key];
    if (!Array.isArray(list)) continue;
    for (const sub of list) {
      const found = objectSchemaOf(deref(sub));
      if (found !== null) return found;
    }
  }
  return null;
}

/** The branches of a oneOf body (LocationInput) or the schema itself. */
export function bodyVariants(schema: JsonObject): JsonObject[] {
  const list = schema['oneOf'];
  return Array.isArray(list) && !isJsonObject(schema['properties']) ? list.map((s) => deref(s)) : [schema];
}

export interface FieldSchema {
  /** e.g. ['client', 'firstName']. */
  path: string[];
  schema: JsonObject;
  required: boolean;
}

/** Every documented property of an object schema, and those of nested objects (depth 2). */
export function documentedFields(schema: JsonObject, prefix: string[] = []): FieldSchema[] {
  const properties = schema['properties'];
  if (!isJsonObject(properties)) return [];
  const required = Array.isArray(schema['required']) ? schema['required'].map(String) : [];
  return Object.entries(properties).flatMap(([name, sub]) => {
    const field: FieldSchema = { path: [...prefix, name], schema: deref(sub), required: required.includes(name) };
    const nested = prefix.length === 0 ? objectSchemaOf(field.schema) : null;
    return [field, ...(nested === null ? [] : documentedFields(nested, [...prefix, name]))];
  });
}
