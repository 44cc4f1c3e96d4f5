/** One message for the page's live view. */
export interface _HubMessage {
  event: string;
  data: string;
}

/** Fans messages out to every open event stream. */
export class _EventHub {
  #listeners = new Set<(message: _HubMessage) => void>();

  get size(): number {
    return this.#listeners.size;
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: (message: _HubMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  publish(event: string, data: unknown): void {
    if (this.#listeners.size === 0) return;
    const message = { event, data: JSON.stringify(data) };
    for (const listener of this.#listeners) listener(message);
  }
}
