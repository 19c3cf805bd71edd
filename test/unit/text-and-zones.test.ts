import assert from 'node:assert/strict';
import { canonicalTimeZone, forbiddenCharacterIn, isValidTimeZone, supportedTimeZones, toPrintableText } from '../../src/domain/index.js';

const C0 = Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i));
const C1 = Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(0x80 + i));
const CONTROLS = [...C0, '\u007f', ...C1];
const LINE_BREAKS_AND_TAB = new Set(['\t', '\n', '\r']);
const hex = (c: string) => `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;

describe('forbiddenCharacterIn', () => {
  it('when single-line text holds any C0 control, DEL or C1 control, then that character is named', () => {
    for (const c of CONTROLS) assert.equal(forbiddenCharacterIn(`Dr ${c} Byron`, 'line'), hex(c), hex(c));
  });

  it('when multi-line text holds a control, then it is named unless it is a tab, CR or LF', () => {
    for (const c of CONTROLS) {
      assert.equal(forbiddenCharacterIn(`Step 1${c}Step 2`, 'multiline'), LINE_BREAKS_AND_TAB.has(c) ? null : hex(c), hex(c));
    }
  });

  it('when text holds letters, accents, emoji, non-breaking and line-separator spaces, then nothing is named', () => {
    for (const kind of ['line', 'multiline'] as const) assert.equal(forbiddenCharacterIn('Dr. Zoë Ørsted 😀 \u00a0\u2028 — OK', kind), null);
  });
});

describe('toPrintableText', () => {
  it('when text the API accepts is given, then it comes back unchanged', () => {
    assert.equal(toPrintableText('Dr. Zoë Ørsted', 'line'), 'Dr. Zoë Ørsted');
    assert.equal(toPrintableText('Step 1:\tlog in\r\nStep 2', 'multiline'), 'Step 1:\tlog in\r\nStep 2');
  });

  it('when stored text holds controls, then each run of them becomes one space and no control is left', () => {
    assert.equal(toPrintableText('Dr\u0000\u0007Ada\u001b[31m\u0085Byron', 'line'), 'Dr Ada [31m Byron');
    assert.equal(toPrintableText('a\tb\nc', 'line'), 'a b c');
    assert.equal(toPrintableText('a\tb\nc\u0000d', 'multiline'), 'a\tb\nc d');
    for (const c of CONTROLS) assert.equal(forbiddenCharacterIn(toPrintableText(`x${c}y`, 'line'), 'line'), null, hex(c));
  });

  it('when stored text holds a lone surrogate, then it becomes U+FFFD', () => {
    assert.equal(toPrintableText('Dr \ud800 X', 'line'), 'Dr \ufffd X');
  });
});

describe('time zones', () => {
  it('when a zone is spelled exactly, then it is valid, including backward links and UTC', () => {
    for (const zone of ['America/New_York', 'Europe/London', 'Asia/Kolkata', 'Asia/Calcutta', 'US/Eastern', 'UTC', 'Etc/GMT+5']) {
      assert.equal(isValidTimeZone(zone), true, zone);
    }
  });

  it('when a zone is spelled in another case or padded, then it is invalid and the canonical spelling is found', () => {
    const cases: [string, string][] = [
      ['america/new_york', 'America/New_York'],
      ['AMERICA/NEW_YORK', 'America/New_York'],
      ['America/New_york', 'America/New_York'],
      [' Europe/London ', 'Europe/London'],
      ['utc', 'UTC'],
    ];
    for (const [given, canonical] of cases) {
      assert.equal(isValidTimeZone(given), false, given);
      assert.equal(canonicalTimeZone(given), canonical, given);
    }
  });

  it('when a name is no zone at all, then it is invalid and has no canonical spelling', () => {
    for (const zone of ['', 'Mars/Olympus_Mons', '+05:00', 'GMT+5', 'America//New_York', 'New York', 'ET']) {
      assert.equal(isValidTimeZone(zone), false, zone);
      assert.equal(canonicalTimeZone(zone), null, zone);
    }
  });

  it('when the supported zones are listed, then there are hundreds and no two differ only in case', () => {
    const zones = [...supportedTimeZones()];
    assert.ok(zones.length > 400, `${zones.length}`);
    assert.equal(new Set(zones.map((z) => z.toLowerCase())).size, zones.length);
  });
});
