import type { Clock } from '../../src/domain/index.js';

/** A clock that moves only when a test says so. */
export class FakeClock implements Clock {
  private current: number;

  constructor(iso = '2026-11-02T12:00:00.000Z') {
    this.current = Date.parse(iso);
  }

  now(): Date {
    return new Date(this.current);
  }

  advance(ms: number): void {
    this.current += ms;
  }

  set(iso: string): void {
    this.current = Date.parse(iso);
  }
}
