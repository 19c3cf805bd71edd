import { loggableError, type Logger } from '../logger.js';
import type { BusyService } from '../services/busy-service.js';
import { BackgroundRunner } from './waker.js';

// The worker role's reading of busy sources (ICS addresses and connected calendars): each is read
// every BUSY_REFRESH_MINUTES (the store's claim makes one process read it at a time); a source
// added or due is picked up within IDLE_MS. Reading on demand is POST .../busy-sources/:id/refresh.

/** Sources read per step; a step returns at once for more while some were due. */
const BATCH = 10;
const IDLE_MS = 30_000;

export class BusyRefresher extends BackgroundRunner {
  private readonly log: Logger;

  constructor(
    private readonly busy: BusyService,
    logger: Logger,
  ) {
    super();
    this.log = logger.child({ module: 'busy-refresher' });
  }

  /** One round: the due sources read and stored; true when there were some (more may be due). */
  protected async step(): Promise<boolean> {
    return (await this.busy.refreshDue(BATCH)) > 0;
  }

  protected async idleMs(): Promise<number> {
    return IDLE_MS;
  }

  protected onLoopError(err: unknown): void {
    this.log.error({ err: loggableError(err) }, 'busy refresh round failed');
  }
}
