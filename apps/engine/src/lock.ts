/**
 * A readers-writer lock for async code, first come first served: readers share it, a writer has it
 * alone, and a waiting writer holds back readers that come after it (so writers are not starved).
 */
export class TreeLock {
  #readers = 0;
  #writer = false;
  readonly #queue: { exclusive: boolean; grant: () => void }[] = [];

  async shared<T>(work: () => Promise<T>): Promise<T> {
    await this.#acquire(false);
    try {
      return await work();
    } finally {
      this.#readers--;
      this.#wake();
    }
  }

  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    await this.#acquire(true);
    try {
      return await work();
    } finally {
      this.#writer = false;
      this.#wake();
    }
  }

  #acquire(exclusive: boolean): Promise<void> {
    if (this.#queue.length === 0 && this.#free(exclusive)) {
      this.#take(exclusive);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#queue.push({ exclusive, grant: resolve }));
  }

  #free(exclusive: boolean): boolean {
    return exclusive ? !this.#writer && this.#readers === 0 : !this.#writer;
  }

  #take(exclusive: boolean): void {
    if (exclusive) this.#writer = true;
    else this.#readers++;
  }

  #wake(): void {
    while (this.#queue.length > 0 && this.#free(this.#queue[0].exclusive)) {
      const next = this.#queue.shift() as { exclusive: boolean; grant: () => void };
      this.#take(next.exclusive);
      next.grant();
    }
  }
}
