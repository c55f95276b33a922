/** The Shared folders panel's field checks, before the core sees them (it checks again). */

/** The core's tag rule (domain/config.ts SHARE_TAG_RE): one word in every shell, 9p's 31 bytes at most. */
const TAG_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/;

/** Why the tag field is not acceptable, or null (empty means the folder's name). */
export function shareTagProblem(tag: string): string | null {
  if (tag === '' || TAG_RE.test(tag)) return null;
  return "1 to 31 letters, digits, '.', '_' or '-', starting with a letter or digit";
}
