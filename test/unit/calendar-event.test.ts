import { testJoinLinks } from '../support/builders.js';
import assert from 'node:assert/strict';
import { toCalendarEvent, toInviteEvent } from '../../src/domain/calendar-event.js';
import { aProvider, aSession, aVirtualLocation, anOfficeLocation } from '../support/builders.js';

describe('toCalendarEvent', () => {
  const video = aVirtualLocation();
  const office = anOfficeLocation();

  it('when the privacy mode is none, then the title is generic and names no client', () => {
    const event = toCalendarEvent(aSession(), aProvider(), video, testJoinLinks);
    assert.equal(event.summary, 'Telehealth session');
    assert.doesNotMatch(JSON.stringify(event), /Jane|Doe|J\.D\./);
  });

  it('when the mode is initials with a BAA attestation, then the title carries the initials only', () => {
    const provider = aProvider({ privacy: { mode: 'initials', baaAttested: true } });
    const event = toCalendarEvent(aSession(), provider, video, testJoinLinks);
    assert.equal(event.summary, 'Telehealth session with J.D.');
    assert.doesNotMatch(JSON.stringify(event), /Jane|Doe/);
  });

  it('when the mode is full with a BAA attestation, then the title carries the client name', () => {
    const provider = aProvider({ privacy: { mode: 'full', baaAttested: true } });
    assert.equal(toCalendarEvent(aSession(), provider, office, testJoinLinks).summary, 'In-person session with Jane Doe');
  });

  it('when an identifying mode lacks the BAA attestation, then it falls back to no identity', () => {
    const provider = aProvider({ privacy: { mode: 'full', baaAttested: false } });
    assert.equal(toCalendarEvent(aSession(), provider, video, testJoinLinks).summary, 'Telehealth session');
  });

  it('when the session is virtual, then the link is in location, url and description with the instructions', () => {
    const event = toCalendarEvent(aSession(), aProvider(), video, testJoinLinks);
    assert.equal(event.location, video.url);
    assert.equal(event.url, video.url);
    assert.equal(event.description, `${video.instructions}\n\nJoin: ${video.url}`);
  });

  it('when the session overrides the link, then the override wins everywhere', () => {
    const override = 'https://doxy.me/dr-byron';
    const event = toCalendarEvent(aSession({ telehealthUrl: override }), aProvider(), video, testJoinLinks);
    assert.equal(event.location, override);
    assert.equal(event.url, override);
    assert.match(event.description ?? '', /Join: https:\/\/doxy\.me\/dr-byron$/);
  });

  it('when the session is in person, then the address is the location and there is no link', () => {
    const event = toCalendarEvent(aSession({ locationId: office.id }), aProvider(), office, testJoinLinks);
    assert.equal(event.summary, 'In-person session');
    assert.equal(event.location, office.address);
    assert.equal(event.url, null);
    assert.equal(event.description, null);
  });

  it('when only the client name changes in mode none, then the revision does not change', () => {
    const a = toCalendarEvent(aSession(), aProvider(), video, testJoinLinks);
    const b = toCalendarEvent(aSession({ client: { id: 'x', firstName: 'Max', lastName: 'Mustermann' } }), aProvider(), video, testJoinLinks);
    assert.equal(a.revision, b.revision);
  });

  it('when the time, link or status changes, then the revision changes', () => {
    const base = toCalendarEvent(aSession(), aProvider(), video, testJoinLinks).revision;
    const moved = toCalendarEvent(aSession({ start: '2026-11-10T16:00:00.000Z' }), aProvider(), video, testJoinLinks).revision;
    const relinked = toCalendarEvent(aSession(), aProvider(), { ...video, url: 'https://zoom.us/j/999' }, testJoinLinks).revision;
    const cancelled = toCalendarEvent(aSession({ status: 'cancelled' }), aProvider(), video, testJoinLinks).revision;
    assert.equal(new Set([base, moved, relinked, cancelled]).size, 4);
  });

  it('when rendered, then uid, sequence and stamps come from the stored session', () => {
    const session = aSession({ sequence: 3, lastModified: '2026-11-03T10:00:00.000Z' });
    const event = toCalendarEvent(session, aProvider(), video, testJoinLinks);
    assert.equal(event.uid, session.uid);
    assert.equal(event.sequence, 3);
    assert.equal(event.stamp, '2026-11-03T10:00:00.000Z');
    assert.equal(event.created, session.createdAt);
    assert.equal(event.timezone, 'America/New_York');
  });
});

describe('toInviteEvent', () => {
  it('when rendered for the client, then it names the provider and never the client, whatever the mode', () => {
    const provider = aProvider({ privacy: { mode: 'full', baaAttested: true } });
    const event = toInviteEvent(aSession(), provider, aVirtualLocation(), testJoinLinks);
    assert.equal(event.summary, 'Session with Dr. Ada Byron');
    assert.doesNotMatch(JSON.stringify(event), /Jane|Doe/);
    assert.equal(event.url, aVirtualLocation().url);
  });
});
