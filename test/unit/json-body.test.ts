import assert from 'node:assert/strict';
import { bodyProblems, MAX_BODY_DEPTH } from '../../src/http/json-body.js';

describe('bodyProblems', () => {
  it('when every string and key is well-formed, then there is no problem', () => {
    assert.deepEqual(bodyProblems({ name: 'Dr. Zoë 😀', client: { firstName: 'Ünal' }, list: ['a', 1, null, true] }), []);
  });

  it('when values and keys hold lone surrogates, then each is named by its dotted path', () => {
    const body: unknown = JSON.parse('{"name":"Dr \\ud800 X","client":{"lastName":"a\\udfff"},"list":["ok","\\ud83d"],"\\udc00k":1}');
    assert.deepEqual(bodyProblems(body).map((p) => p.path).sort(), ['client.lastName', 'list.1', 'name', '\ufffdk']);
    assert.deepEqual(bodyProblems(JSON.parse('"\\ud800"')).map((p) => p.path), ['(body)']);
  });

  it('when a body nests 100,000 levels deep, then one problem is named and nothing overflows the stack', () => {
    const depth = 100_000;
    const problems = bodyProblems(JSON.parse('['.repeat(depth) + ']'.repeat(depth)));
    assert.equal(problems.length, 1);
    assert.match(problems[0]?.message ?? '', new RegExp(`deeper than ${MAX_BODY_DEPTH}`));
  });

  it('when a body nests exactly as deep as allowed, then it passes', () => {
    assert.deepEqual(bodyProblems(JSON.parse('['.repeat(MAX_BODY_DEPTH) + ']'.repeat(MAX_BODY_DEPTH))), []);
  });

  it('when thousands of strings are bad, then the first twenty are named', () => {
    assert.equal(bodyProblems(Array.from({ length: 5000 }, () => '\ud800')).length, 20);
  });
});
