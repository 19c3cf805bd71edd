// Prints the fixture calendar to stdout, byte for byte; the renderer test runs it under other TZs.
import { renderCalendar } from '../../feeds/index.js';
import { allCalendarEvents, calendarMeta } from '../fixtures/calendar-events.js';

process.stdout.write(renderCalendar(calendarMeta, allCalendarEvents));
