/**
 * `qemu-img convert -p` (and other commands with -p) print their progress as
 * "    (12.34/100%)\r", repeated; chunks from a pipe can split a record anywhere.
 */
export class ProgressParser {
  private tail = '';

  /** Feeds output; returns the newest percentage it completes (0–100), or null. */
  feed(chunk: string): number | null {
    const text = this.tail + chunk;
    let last: number | null = null;
    const re = /\((\d{1,3}(?:\.\d+)?)\/100%\)/g;
    let m: RegExpExecArray | null;
    let consumed = 0;
    while ((m = re.exec(text)) !== null) {
      const v = Number(m[1]);
      if (Number.isFinite(v) && v >= 0 && v <= 100) last = v;
      consumed = m.index + m[0].length;
    }
    // Keep only what could be the start of a record that is not complete yet.
    const rest = text.slice(consumed);
    const open = rest.lastIndexOf('(');
    this.tail = open >= 0 && rest.length - open < 32 ? rest.slice(open) : '';
    return last;
  }
}

/** Whether qemu-img's complaint means the target file system is full. */
export function isNoSpace(stderr: string): boolean {
  return /No space left on device|File too large|ENOSPC|EFBIG|Disk quota exceeded/i.test(stderr);
}
