// Cooperative time slicing: long work on untrusted input runs in stretches of a few milliseconds
// and gives the event loop back in between, so one hostile calendar cannot stall every request.

export class TimeSlicer {
  private started = performance.now();

  /**
   * @param budgetMs how long one synchronous stretch may run before the next yield
   * @param onSlice told the length of every stretch, the last one included (tests, profiling)
   */
  constructor(
    private readonly budgetMs: number,
    private readonly onSlice?: (ms: number) => void,
  ) {}

  /** Whether the current stretch has used its budget; cheap enough to ask in a tight loop. */
  due(): boolean {
    return performance.now() - this.started >= this.budgetMs;
  }

  /** Ends the current stretch and resumes on a later turn of the event loop. */
  async yield(): Promise<void> {
    this.onSlice?.(performance.now() - this.started);
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.started = performance.now();
  }

  /** Yields when the budget is used up. */
  async pace(): Promise<void> {
    if (this.due()) await this.yield();
  }

  /** Reports the final stretch; call once when the work is done or abandoned. */
  finish(): void {
    this.onSlice?.(performance.now() - this.started);
  }
}
