/**
 * What the guest agent tells about a running VM (connected or not, OS, host name, every
 * interface's addresses and counters), kept fresh by a poll that the statistics monitor
 * drives, and the agent calls the lifecycle needs (shutdown, freeze, clock). One per QEMU
 * process; a hung or hostile agent costs each caller at most its own deadline.
 */
import path from 'node:path';
import type { GuestAgentStatus } from '../api/contract';
import { GuestAgentClient, guestCommands, type GuestCommands, type GuestInterface, type GuestOsInfo } from '../qemu/agent';
import { RUNTIME_FILES } from '../qemu/argv';

/** How long a poll call may take; a poll never overlaps the previous one. */
const POLL_CALL_MS = 2000;
/** Poll this often while answers come; slower while the agent is silent. */
const POLL_EVERY_MS = 5000;
const POLL_SILENT_EVERY_MS = 15_000;
/** After the agent opened its port: poll each tick until it answers, for this long. */
const EAGER_MS = 30_000;

export class GuestWatch {
  readonly client: GuestAgentClient;
  readonly cmd: GuestCommands;
  #os: GuestOsInfo | null = null;
  #hostName: string | null = null;
  #interfaces: readonly GuestInterface[] = [];
  #connected = false;
  #checkedAt = 0;
  #polling = false;
  #inFlight: Promise<void> | null = null;
  #eagerUntil = 0;
  #error: string | null = null;
  /** Freezes under way (quiesce.ts): a frozen agent refuses polls, which must not mark it silent. */
  #held = 0;

  constructor(runDir: string) {
    this.client = new GuestAgentClient(path.join(runDir, RUNTIME_FILES.agent));
    this.cmd = guestCommands(this.client);
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** The latest interface list (with counters), or null when the agent is not answering. */
  get interfaces(): readonly GuestInterface[] | null {
    return this.#connected ? this.#interfaces : null;
  }

  /** Called on every statistics tick; polls when due, in the background. */
  tick(paused: boolean): void {
    const eager = !this.#connected && Date.now() < this.#eagerUntil;
    const every = eager ? 0 : this.#connected ? POLL_EVERY_MS : POLL_SILENT_EVERY_MS;
    if (this.#polling || paused || this.#held > 0 || Date.now() - this.#checkedAt < every) return;
    void this.poll();
  }

  /**
   * Waits, at most `ms`, for the first poll under way. A core that re-attaches to a running VM
   * makes a new watch: without this its first samples would call the counters missing until the
   * agent had answered once, where the guest's agent had answered all along.
   */
  async firstAnswer(ms: number): Promise<void> {
    if (this.#checkedAt || !this.#inFlight) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#inFlight, new Promise<void>((res) => (timer = setTimeout(res, ms)))]);
    clearTimeout(timer);
  }

  /**
   * The agent opened its port (QMP VSERPORT_CHANGE): it is starting in the guest, so it is
   * asked now and then at every tick until it answers, instead of every 15 s while silent.
   */
  portOpened(): void {
    this.#eagerUntil = Date.now() + EAGER_MS;
    void this.poll();
  }

  /** Keeps polls off until the returned release is called (once; later calls do nothing). */
  hold(): () => void {
    this.#held++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#held--;
    };
  }

  /**
   * Thaws the guest if its agent holds it frozen: a guest resumed from the RAM of a snapshot
   * taken frozen (quiesce.ts) comes back so, and its agent refuses everything else until then.
   */
  async thawIfFrozen(timeoutMs: number): Promise<boolean> {
    if (this.#held > 0 || !(await this.cmd.frozen(timeoutMs))) return false;
    await this.cmd.thaw(timeoutMs);
    return true;
  }

  /** Asks the agent now (also used right after a start or restore). */
  async poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    const done = this.#poll();
    this.#inFlight = done;
    await done;
  }

  async #poll(): Promise<void> {
    try {
      this.#interfaces = await this.cmd.interfaces(POLL_CALL_MS);
      this.#connected = true;
      this.#error = null;
      this.#hostName = await this.cmd.hostName(POLL_CALL_MS).catch(() => this.#hostName);
      if (!this.#os) this.#os = await this.cmd.osInfo(POLL_CALL_MS).catch(() => null);
    } catch (err) {
      this.#connected = false;
      this.#error = (err as Error).message;
    } finally {
      this.#checkedAt = Date.now();
      this.#polling = false;
      this.#inFlight = null;
    }
  }

  status(): GuestAgentStatus {
    return {
      configured: true,
      connected: this.#connected,
      ...(this.#checkedAt ? { checkedAt: new Date(this.#checkedAt).toISOString() } : {}),
      ...(this.#error && !this.#connected ? { error: this.#error } : {}),
      ...(this.#os ? { os: { name: this.#os.name, version: this.#os.version, prettyName: this.#os.prettyName, kernel: this.#os.kernelRelease } } : {}),
      ...(this.#hostName ? { hostName: this.#hostName } : {}),
      interfaces: this.#connected
        ? this.#interfaces.map((i) => ({ name: i.name, mac: i.mac, addresses: i.addresses.map((a) => `${a.address}/${a.prefix}`) }))
        : [],
    };
  }

  close(): void {
    this.client.close();
  }
}
