import assert from 'node:assert/strict';
import { normaliseReminders, pushRevision, sameReminders } from '../../src/domain/index.js';

describe('reminders (domain)', () => {
  it('when normalised, then minutes are ascending and distinct; null stays null', () => {
    assert.deepEqual(normaliseReminders([60, 10, 60]), [10, 60]);
    assert.deepEqual(normaliseReminders([]), []);
    assert.equal(normaliseReminders(null), null);
  });

  it('when compared, then order does not matter, and null (defaults) differs from [] (none)', () => {
    assert.equal(sameReminders([10, 60], [60, 10]), true);
    assert.equal(sameReminders(null, null), true);
    assert.equal(sameReminders(null, []), false);
    assert.equal(sameReminders([10], [15]), false);
  });

  it('when there is no setting, then the pushed revision is the event revision itself (events pushed before stay current)', () => {
    assert.equal(pushRevision('rev-1', null), 'rev-1');
  });

  it('when there is a setting, then the pushed revision differs per setting, is stable, and ignores order', () => {
    const a = pushRevision('rev-1', [10, 60]);
    assert.notEqual(a, 'rev-1');
    assert.equal(pushRevision('rev-1', [60, 10]), a);
    assert.notEqual(pushRevision('rev-1', [10]), a);
    assert.notEqual(pushRevision('rev-1', []), pushRevision('rev-1', null));
    assert.notEqual(pushRevision('rev-2', [10, 60]), a);
    assert.match(a, /^[A-Za-z0-9_-]{22}$/);
  });
});
