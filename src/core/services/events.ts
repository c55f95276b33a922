import type { ApiEvents, EventName } from '../api/contract';

export type BusListener = <E extends EventName>(name: E, data: ApiEvents[E]) => void;

/** Fan-out of core events to every connected client. */
export class EventBus {
  private readonly listeners = new Set<BusListener>();

  on(l: BusListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  emit<E extends EventName>(name: E, data: ApiEvents[E]): void {
    for (const l of [...this.listeners]) {
      try {
        l(name, data);
      } catch {
        // One broken client must not stop the others hearing about it.
      }
    }
  }
}
