import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import express from 'express';
import supertest from 'supertest';
import { errorMiddleware } from '../../src/http/error-middleware.js';
import { createLogger } from '../../src/logger.js';

const SECRET = 'feed-token-4f9a1c7e5b2d8a03';

/** An app whose one route fails with `err`, and the log lines it writes. */
function appFailingWith(err: unknown): { app: express.Express; log: string[] } {
  const log: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      log.push(chunk.toString('utf8'));
      done();
    },
  });
  const app = express();
  app.get('/fail/:id', () => {
    throw err;
  });
  app.use(errorMiddleware(createLogger('debug', sink)));
  return { app, log };
}

describe('errorMiddleware', () => {
  it('when an unknown error carries request text in its message, then 500 with a generic body and a log line without the message', async () => {
    const { app, log } = appFailingWith(new TypeError(`cannot read ${SECRET}`));
    const res = await supertest(app).get(`/fail/${SECRET}`);
    assert.equal(res.status, 500);
    assert.deepEqual(res.body, { error: { code: 'INTERNAL', message: 'Something went wrong on our side.' } });
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(log.length, 1);
    const line = JSON.parse(log[0] ?? '{}') as { err: { type: string; frames: string[] }; route: string };
    assert.equal(line.err.type, 'TypeError');
    assert.ok(line.err.frames.length > 0, 'the stack frames locate the bug');
    assert.equal(line.route, '/fail/:id');
    assert.ok(!log.join('').includes(SECRET));
  });

  it('when a foreign error carries a 4xx status or statusCode, then that status with a fixed message, and nothing is logged', async () => {
    for (const [err, status, code] of [
      [Object.assign(new Error(SECRET), { status: 400 }), 400, 'BAD_REQUEST'],
      [Object.assign(new Error(SECRET), { statusCode: 413 }), 413, 'PAYLOAD_TOO_LARGE'],
      [Object.assign(new Error(SECRET), { status: 415, type: 'x' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [Object.assign(new URIError(`Failed to decode param '${SECRET}%'`), { status: 400 }), 400, 'MALFORMED_URL'],
      [{ status: 418, message: SECRET }, 418, 'BAD_REQUEST'],
    ] as const) {
      const { app, log } = appFailingWith(err);
      const res = await supertest(app).get('/fail/x');
      assert.equal(res.status, status, code);
      assert.equal(res.body.error.code, code);
      assert.ok(!JSON.stringify(res.body).includes(SECRET), code);
      assert.deepEqual(log, [], code);
    }
  });

  it('when an error carries a 5xx status or a non-numeric one, then it is an internal error', async () => {
    for (const err of [Object.assign(new Error(SECRET), { status: 503 }), Object.assign(new Error(SECRET), { status: '400' }), 'a string']) {
      const { app, log } = appFailingWith(err);
      const res = await supertest(app).get('/fail/x');
      assert.equal(res.status, 500);
      assert.equal(log.length, 1);
      assert.ok(!log.join('').includes(SECRET));
    }
  });
});
