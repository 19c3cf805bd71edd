import assert from 'node:assert/strict';
import { toGoogleEvent } from '../../connectors/google/index.js';
import { toGraphEvent } from '../../connectors/outlook/index.js';
import { renderCalendar } from '../../feeds/index.js';
import { eventTagKey } from '../../src/domain/index.js';
import { allCalendarEvents, calendarMeta } from '../fixtures/calendar-events.js';
import { parseFeed } from '../support/parse-ics.js';

// DESIGN.md: the ICS renderer, the Google mapper and the Graph mapper are pure functions of one
// CalendarEvent; fed the same fixtures, they must agree on what a provider sees.
describe('feed, Google and Graph renderings', () => {
  const live = allCalendarEvents.filter((e) => e.status === 'confirmed');
  const feed = new Map(parseFeed(renderCalendar(calendarMeta, live)).map((e) => [e.uid, e]));

  for (const event of live) {
    it(`when ${event.uid} is rendered three ways, then times, title and link agree`, () => {
      const tag = { key: eventTagKey('p1', event.uid), revision: event.revision };
      const ics = feed.get(event.uid);
      assert.ok(ics, 'the feed has the event');
      const google = toGoogleEvent(event, tag);
      const graph = toGraphEvent(event, tag);

      const instants = [
        [Date.parse(ics.start), Date.parse(ics.end)],
        [Date.parse(google.start.dateTime), Date.parse(google.end.dateTime)],
        [Date.parse(`${graph.start.dateTime}Z`), Date.parse(`${graph.end.dateTime}Z`)],
      ];
      for (const pair of instants) assert.deepEqual(pair, [Date.parse(event.start), Date.parse(event.end)]);
      assert.equal(graph.start.timeZone, 'UTC');

      assert.deepEqual([ics.summary, google.summary, graph.subject], [event.summary, event.summary, event.summary]);
      assert.deepEqual([ics.location, google.location ?? null, graph.location.displayName || null], [event.location, event.location, event.location]);
      // The description carries the join instructions and the link a client clicks.
      assert.deepEqual([ics.description, google.description ?? null, graph.body.content || null], [event.description, event.description, event.description]);
      if (event.url !== null) assert.equal(ics.url !== null && decodeURIComponent(ics.url), decodeURIComponent(event.url));
    });
  }
});
