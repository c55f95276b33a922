/**
 * Consistent live snapshots: the guest's file systems are frozen through its agent
 * (guest-fsfreeze-freeze) over the instant the disks are snapshotted, so the disks alone are
 * clean (a journal with nothing to replay) and not merely as after a power cut. A snapshot
 * with its RAM restores exactly either way; the freeze is for its disks without it: a clone
 * or export made from the snapshot, or a restore whose RAM state was lost.
 *
 * A freeze must never cost the user the snapshot or a working guest, so:
 * - it is skipped, and the snapshot taken all the same and recorded as not frozen with the
 *   reason, when the agent does not answer a ping within `pingMs` (a hung or absent agent);
 * - the freeze call has `freezeMs`; an agent that does not answer in time may still carry it
 *   out later, so it counts as not frozen and is thawed all the same;
 * - the guest stays frozen at most `maxFrozenMs` (a big RAM written slowly would otherwise
 *   stall its programs for as long): past that it is thawed before the snapshot is done, and
 *   the snapshot says it was not frozen;
 * - every freeze that was sent is followed by a thaw, however the snapshot ends (done,
 *   failed, cancelled, timed out); a thaw that fails is retried, in the background once the
 *   snapshot has ended, and reported in the VM's log.
 *
 * The RAM of a snapshot taken frozen is frozen too: a guest resumed from one comes back with
 * its file systems frozen and is thawed first thing (GuestWatch.thawIfFrozen, called where
 * the lifecycle sets the clock of a resumed guest).
 */
import type { GuestWatch } from './guestwatch';

export interface FreezeLimits {
  readonly pingMs: number;
  readonly freezeMs: number;
  readonly maxFrozenMs: number;
  readonly thawMs: number;
  /** Thaw attempts before the snapshot ends; then retried every `retryEveryMs` for `retryForMs`. */
  readonly thawTries: number;
  readonly retryEveryMs: number;
  readonly retryForMs: number;
}

/**
 * Freezing syncs every dirty page first, which under heavy writes (or TCG) takes seconds;
 * 30 s frozen is about what Windows' VSS grants a writer, and more than a RAM of a few GiB
 * needs to reach its switch-over at local-disk speed.
 */
export const FREEZE_LIMITS: FreezeLimits = {
  pingMs: 2000,
  freezeMs: 15_000,
  maxFrozenMs: 30_000,
  thawMs: 5000,
  thawTries: 3,
  retryEveryMs: 5000,
  retryForMs: 120_000,
};

export type FreezeLog = (level: 'info' | 'warning' | 'error', message: string) => void;

/** What a snapshot records: frozen or not, and why not. */
export interface FreezeOutcome {
  readonly frozen: boolean;
  readonly note: string | null;
}

export class GuestFreeze {
  #frozen = false;
  #note: string | null;
  #sent = false;
  #capTimer: ReturnType<typeof setTimeout> | null = null;
  #capThaw: Promise<boolean> | null = null;
  #release: () => void = () => undefined;

  private constructor(
    private readonly guest: GuestWatch | null,
    private readonly log: FreezeLog,
    private readonly limits: FreezeLimits,
    note: string | null,
  ) {
    this.#note = note;
  }

  /** A snapshot taken without asking the guest (no agent port): `note` says why. */
  static skipped(note: string): GuestFreeze {
    return new GuestFreeze(null, () => undefined, FREEZE_LIMITS, note);
  }

  /** Freezes the guest's file systems if its agent answers in time; never throws. */
  static async begin(guest: GuestWatch, log: FreezeLog, limits: FreezeLimits = FREEZE_LIMITS): Promise<GuestFreeze> {
    const f = new GuestFreeze(guest, log, limits, null);
    await f.#freeze(guest);
    return f;
  }

  async #freeze(guest: GuestWatch): Promise<void> {
    // Polls would be refused by a frozen agent (and mark it silent): they wait until the thaw.
    this.#release = guest.hold();
    try {
      await guest.cmd.ping(this.limits.pingMs);
    } catch (err) {
      this.#note = `the guest agent did not answer within ${this.limits.pingMs / 1000} s (${(err as Error).message})`;
      this.#release();
      return;
    }
    this.#sent = true;
    const t0 = Date.now();
    try {
      const n = await guest.cmd.freeze(this.limits.freezeMs);
      if (n === 0) {
        // qemu-ga counts itself frozen even so (and refuses other commands): thawed now, so
        // the snapshot's RAM does not keep an agent that waits for a thaw.
        this.#note = 'the guest agent found no file system to freeze';
        if (await this.#thawOnce().catch(() => false)) {
          this.#sent = false;
          this.#release();
        }
        return;
      }
      this.#frozen = true;
      this.log('info', `froze ${n} file system${n === 1 ? '' : 's'} of the guest in ${Date.now() - t0} ms`);
      this.#capTimer = setTimeout(() => {
        this.#frozen = false;
        this.#note = `the guest was thawed after ${this.limits.maxFrozenMs / 1000} s frozen, before its disks were snapshotted (saving its RAM took longer)`;
        this.#capThaw = this.#thawOnce().catch(() => false);
      }, this.limits.maxFrozenMs);
    } catch (err) {
      this.#note = `the guest agent did not freeze the file systems: ${(err as Error).message}`;
    }
  }

  /** Whether the file systems are frozen now: what the disks of a snapshot taken at this instant get. */
  get outcome(): FreezeOutcome {
    return { frozen: this.#frozen, note: this.#frozen ? null : this.#note };
  }

  async #thawOnce(): Promise<boolean> {
    await this.guest!.cmd.thaw(this.limits.thawMs);
    return true;
  }

  /**
   * Thaws (whenever a freeze was sent, even one that failed or timed out), retrying; what
   * cannot be thawed now is retried in the background and reported. Never throws.
   */
  async end(): Promise<void> {
    if (this.#capTimer) clearTimeout(this.#capTimer);
    this.#capTimer = null;
    this.#frozen = false;
    if (!this.#sent || !this.guest) return;
    this.#sent = false;
    if (this.#capThaw && (await this.#capThaw)) {
      this.#release();
      return;
    }
    let last = '';
    for (let i = 0; i < this.limits.thawTries; i++) {
      try {
        await this.#thawOnce();
        this.#release();
        return;
      } catch (err) {
        last = (err as Error).message;
      }
    }
    this.log('warning', `could not thaw the guest's file systems (${last}); retrying for ${this.limits.retryForMs / 1000} s`);
    void this.#retry(Date.now() + this.limits.retryForMs);
  }

  async #retry(until: number): Promise<void> {
    let last = '';
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, this.limits.retryEveryMs));
      try {
        await this.#thawOnce();
        this.#release();
        this.log('info', "thawed the guest's file systems after all");
        return;
      } catch (err) {
        last = (err as Error).message;
      }
    }
    this.#release();
    this.log(
      'error',
      `the guest's file systems may still be frozen: its agent did not answer a thaw for ${this.limits.retryForMs / 1000} s (${last}); run 'fsfreeze -u' on each in the guest, or restart its qemu-guest-agent`,
    );
  }
}
