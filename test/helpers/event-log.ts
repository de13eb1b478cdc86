/**
 * Events recorded in arrival order; `wait(n)` resolves once `n` have arrived, woken by each
 * `push` (no polling), or throws after `ms` listing what did arrive.
 */
export class EventLog<T> {
  readonly got: T[] = [];
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly what = 'events') {}

  readonly push = (e: T): void => {
    this.got.push(e);
    for (const w of this.waiters.splice(0)) w();
  };

  async wait(n: number, ms = 5_000): Promise<void> {
    const end = Date.now() + ms;
    while (this.got.length < n) {
      if (Date.now() > end) throw new Error(`waited ${ms} ms for ${n} ${this.what}, got ${JSON.stringify(this.got)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, end - Date.now()).unref();
      });
    }
  }
}
