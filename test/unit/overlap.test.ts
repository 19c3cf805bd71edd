import assert from 'node:assert/strict';
import { findLinkConflicts, type BookedSlot, type LinkConflict } from '../../src/domain/overlap.js';

const ROOM = 'zoom.us/j/1234567890';
const OTHER_ROOM = 'doxy.me/drbyron';

/** A slot on 2026-11-10 from `from` to `to` (UTC "HH:mm"). */
function aSlot(sessionId: string, from: string, to: string, linkKey: string | null = ROOM): BookedSlot {
  return { sessionId, start: `2026-11-10T${from}:00.000Z`, end: `2026-11-10T${to}:00.000Z`, linkKey };
}

describe('findLinkConflicts', () => {
  const cases: [string, BookedSlot[], BookedSlot[], LinkConflict[]][] = [
    // [scenario, candidates, existing, expected conflicts]
    ['a candidate overlaps an existing session in the same room', [aSlot('new', '15:30', '16:20')], [aSlot('old', '15:00', '15:50')], [{ sessionId: 'new', conflictsWith: 'old' }]],
    ['a candidate lies inside an existing session', [aSlot('new', '15:10', '15:20')], [aSlot('old', '15:00', '15:50')], [{ sessionId: 'new', conflictsWith: 'old' }]],
    ['a candidate contains an existing session', [aSlot('new', '14:00', '17:00')], [aSlot('old', '15:00', '15:50')], [{ sessionId: 'new', conflictsWith: 'old' }]],
    ['a candidate has exactly the same times', [aSlot('new', '15:00', '15:50')], [aSlot('old', '15:00', '15:50')], [{ sessionId: 'new', conflictsWith: 'old' }]],
    ['a candidate starts when the existing one ends (back-to-back)', [aSlot('new', '15:50', '16:40')], [aSlot('old', '15:00', '15:50')], []],
    ['a candidate ends when the existing one starts (back-to-back)', [aSlot('new', '14:10', '15:00')], [aSlot('old', '15:00', '15:50')], []],
    ['the overlapping session uses another room', [aSlot('new', '15:30', '16:20')], [aSlot('old', '15:00', '15:50', OTHER_ROOM)], []],
    ['the candidate is in person', [aSlot('new', '15:30', '16:20', null)], [aSlot('old', '15:00', '15:50')], []],
    ['the existing session is in person', [aSlot('new', '15:30', '16:20')], [aSlot('old', '15:00', '15:50', null)], []],
    ['both are in person at the same time', [aSlot('new', '15:00', '15:50', null)], [aSlot('old', '15:00', '15:50', null)], []],
    ['the existing slot is the candidate session itself (a reschedule)', [aSlot('s1', '15:30', '16:20')], [aSlot('s1', '15:00', '15:50')], []],
    ['an empty candidate interval touches an existing session start', [aSlot('new', '15:00', '15:00')], [aSlot('old', '15:00', '15:50')], []],
    ['nothing is booked yet', [aSlot('new', '15:00', '15:50')], [], []],
    ['there are no candidates', [], [aSlot('a', '15:00', '15:50'), aSlot('b', '15:00', '15:50')], []],
    [
      'two candidates of one batch overlap each other',
      [aSlot('c1', '15:00', '15:50'), aSlot('c2', '15:30', '16:20')],
      [],
      [
        { sessionId: 'c1', conflictsWith: 'c2' },
        { sessionId: 'c2', conflictsWith: 'c1' },
      ],
    ],
    ['two candidates of one batch are back-to-back', [aSlot('c1', '15:00', '15:50'), aSlot('c2', '15:50', '16:40')], [], []],
    [
      'a candidate overlaps several sessions',
      [aSlot('new', '15:00', '17:00')],
      [aSlot('late', '16:30', '17:20'), aSlot('early', '14:30', '15:10'), aSlot('middle', '15:40', '16:00'), aSlot('elsewhere', '15:00', '17:00', OTHER_ROOM)],
      [
        { sessionId: 'new', conflictsWith: 'early' },
        { sessionId: 'new', conflictsWith: 'middle' },
        { sessionId: 'new', conflictsWith: 'late' },
      ],
    ],
    [
      'several candidates conflict, given in reverse order',
      [aSlot('c-late', '18:00', '18:50'), aSlot('c-early', '15:00', '15:50')],
      [aSlot('o-early', '15:20', '16:10'), aSlot('o-late', '18:30', '19:20')],
      [
        { sessionId: 'c-early', conflictsWith: 'o-early' },
        { sessionId: 'c-late', conflictsWith: 'o-late' },
      ],
    ],
    [
      'a rescheduled batch moves into the old slot of one of its own sessions',
      // s1 moves from 15:00 to 16:00, s2 moves into 15:00: the old s1 slot no longer counts.
      [aSlot('s1', '16:00', '16:50'), aSlot('s2', '15:00', '15:50')],
      [aSlot('s1', '15:00', '15:50'), aSlot('s2', '14:00', '14:50')],
      [],
    ],
  ];
  for (const [scenario, candidates, existing, expected] of cases) {
    it(`when ${scenario}, then ${expected.length === 0 ? 'there is no conflict' : `${expected.length} conflict(s) are reported`}`, () => {
      assert.deepEqual(findLinkConflicts(candidates, existing), expected);
    });
  }

  it('when existing sessions overlap each other but no candidate, then nothing is reported', () => {
    const existing = [aSlot('a', '15:00', '15:50'), aSlot('b', '15:10', '16:00')];
    assert.deepEqual(findLinkConflicts([aSlot('new', '16:00', '16:50')], existing), []);
  });

  it('when instants are written with different offsets, then they are compared as instants', () => {
    const candidate: BookedSlot = { sessionId: 'new', start: '2026-11-10T10:30:00-05:00', end: '2026-11-10T11:20:00-05:00', linkKey: ROOM };
    assert.deepEqual(findLinkConflicts([candidate], [aSlot('old', '15:00', '15:50')]), [{ sessionId: 'new', conflictsWith: 'old' }]);
  });

  it('when the inputs are shuffled, then the result is the same', () => {
    const candidates = [aSlot('c1', '15:00', '15:50'), aSlot('c2', '15:20', '16:10'), aSlot('c3', '15:40', '16:30', OTHER_ROOM)];
    const existing = [aSlot('o1', '15:30', '16:00'), aSlot('o2', '16:00', '16:30', OTHER_ROOM), aSlot('o3', '14:00', '15:01')];
    const expected = findLinkConflicts(candidates, existing);
    assert.equal(expected.length, 6);
    assert.deepEqual(findLinkConflicts([...candidates].reverse(), [...existing].reverse()), expected);
    assert.deepEqual(findLinkConflicts([candidates[2]!, candidates[0]!, candidates[1]!], [existing[1]!, existing[2]!, existing[0]!]), expected);
  });

  it('when a weekly series of 104 sessions meets a year of existing sessions, then only the real clashes are reported', () => {
    const week = 7 * 24 * 60 * 60 * 1000;
    const base = Date.parse('2026-01-05T15:00:00.000Z');
    const at = (ms: number) => new Date(ms).toISOString();
    const candidates = Array.from({ length: 104 }, (_, i) => ({ sessionId: `c${i}`, start: at(base + i * week), end: at(base + i * week + 50 * 60_000), linkKey: ROOM }));
    // Existing sessions 50 min later each week (back-to-back), except week 10 which overlaps.
    const existing = Array.from({ length: 52 }, (_, i) => {
      const start = base + i * week + (i === 10 ? 20 : 50) * 60_000;
      return { sessionId: `o${i}`, start: at(start), end: at(start + 50 * 60_000), linkKey: ROOM };
    });
    assert.deepEqual(findLinkConflicts(candidates, existing), [{ sessionId: 'c10', conflictsWith: 'o10' }]);
  });

  it('when a slot has an unparseable instant, then it throws instead of silently allowing an overlap', () => {
    assert.throws(() => findLinkConflicts([{ sessionId: 'bad', start: 'soon', end: 'later', linkKey: ROOM }], []), RangeError);
  });
});
