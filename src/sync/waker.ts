import type { Store, WorkKind } from '../domain/index.js';

// Sleep that a notify() cuts short. A notify() that arrives while the loop is busy is remembered,
// so the next sleep returns at once and no wake-up is lost between "nothing to do" and "sleep".

export class Waker {
  private pending = false;
  private wake: (() => void) | null = null;

  notify(): void {
    this.pending = true;
    this.wake?.();
  }

  /** Call before looking for work: notifications from now on count for the next sleep. */
  clear(): void {
    this.pending = false;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.pending) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wake = done;
    });
  }
}

/** Runs `step` until stopped; sleeps `idleMs(…)` (or until notified) whenever a step found nothing. */
export class WorkLoop {
  readonly waker = new Waker();
  private running = false;
  private done: Promise<void> | null = null;

  constructor(
    private readonly step: () => Promise<boolean>,
    private readonly idleMs: () => Promise<number>,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.done = (async () => {
      while (this.running) {
        try {
          this.waker.clear();
          if (await this.step()) continue;
          if (this.running) await this.waker.sleep(await this.idleMs());
        } catch (err) {
          this.onError(err);
          if (this.running) await this.waker.sleep(1_000);
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.waker.notify();
    await this.done;
  }
}

/**
 * A runner with a background loop: subclasses say what one step is and how long to idle; this
 * gives them notify/start/stop. Both the sync worker and the resync runner are one. While
 * started, the store's work signals of `wakeOn` wake it, from this process or another.
 */
export abstract class BackgroundRunner {
  private readonly loop = new WorkLoop(
    () => this.step(),
    () => this.idleMs(),
    (err) => this.onLoopError(err),
  );
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly wakeOn?: { store: Pick<Store, 'onWork'>; kind: WorkKind }) {}

  /** Does one unit of work; true when it found some (the loop then runs again at once). */
  protected abstract step(): Promise<boolean>;
  /** How long to sleep when a step found nothing (a notify() cuts it short). */
  protected abstract idleMs(): Promise<number>;
  protected abstract onLoopError(err: unknown): void;

  /** Wakes the loop now: new work was queued. */
  notify(): void {
    this.loop.waker.notify();
  }

  start(): void {
    if (this.wakeOn !== undefined && this.unsubscribe === null) this.unsubscribe = this.wakeOn.store.onWork(this.wakeOn.kind, () => this.notify());
    this.loop.start();
  }

  stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    return this.loop.stop();
  }
}
