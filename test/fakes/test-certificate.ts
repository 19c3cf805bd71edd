import https from 'node:https';
import { generate } from 'selfsigned';

// A throwaway TLS certificate for the fake servers, made at test time (never committed), and a
// fetch that trusts it. The Graph client sends bearer tokens only to https hosts, so the fake Graph
// server must speak TLS; Node's global fetch has no per-call CA option without the `undici`
// package (Agent({ connect: { ca } }) as `dispatcher`), so tests hand the connector this fetch.

export interface TestCertificate {
  /** PEM certificate for 127.0.0.1, ::1 and localhost; also the CA to trust. */
  cert: string;
  /** PEM private key; lives only in this process's memory. */
  key: string;
}

let pending: Promise<TestCertificate> | null = null;

/** One certificate per test process (generation costs a few milliseconds with an EC key). */
export function testCertificate(): Promise<TestCertificate> {
  pending ??= (async () => {
    const notBeforeDate = new Date(Date.now() - 60 * 60 * 1000);
    const notAfterDate = new Date(Date.now() + 24 * 60 * 60 * 1000);
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate,
      notAfterDate,
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
            { type: 7, ip: '::1' },
          ],
        },
      ],
    });
    return { cert: pems.cert, key: pems.private };
  })();
  return pending;
}

/** Statuses whose responses have no body (fetch's Response refuses one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * A WHATWG fetch over node:https that trusts `ca` (and only `ca`). Enough for the Graph client
 * and the token requests: method, headers, string/bytes bodies, abort signal; no redirects.
 * A failed connection rejects with TypeError('fetch failed', { cause }) like the global fetch.
 */
export function fetchTrustingCertificate(ca: string): typeof fetch {
  const agent = new https.Agent({ ca, keepAlive: true });
  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const body = request.body === null ? null : Buffer.from(await request.arrayBuffer());
    const headers: Record<string, string> = Object.fromEntries(request.headers);
    if (body !== null) headers['content-length'] = String(body.length);
    return new Promise<Response>((resolve, reject) => {
      const outgoing = https.request(request.url, { method: request.method, headers, agent, signal: init?.signal ?? undefined }, (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('error', (error) => reject(new TypeError('fetch failed', { cause: error })));
        incoming.on('end', () => {
          const status = incoming.statusCode ?? 0;
          const responseHeaders = new Headers();
          for (let i = 0; i + 1 < incoming.rawHeaders.length; i += 2) {
            responseHeaders.append(incoming.rawHeaders[i] ?? '', incoming.rawHeaders[i + 1] ?? '');
          }
          resolve(new Response(NULL_BODY_STATUSES.has(status) ? null : Buffer.concat(chunks), { status, statusText: incoming.statusMessage ?? '', headers: responseHeaders }));
        });
      });
      outgoing.on('error', (error) => reject(new TypeError('fetch failed', { cause: error })));
      outgoing.end(body ?? undefined);
    });
  };
}
