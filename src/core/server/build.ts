/**
 * Which Nestbox build this is: scripts/build-node.mjs writes a hash of the sources into the
 * bundle, so a CLI can tell a daemon started by an older (or newer) build and replace it.
 * `NESTBOX_BUILD_ID` overrides it (tests start a "stale" daemon that way); unbundled code
 * (tests running the sources) is `dev`.
 */
declare const __NESTBOX_BUILD_ID__: string | undefined;

export function buildId(): string {
  const env = process.env['NESTBOX_BUILD_ID'];
  if (env) return env;
  return typeof __NESTBOX_BUILD_ID__ === 'string' ? __NESTBOX_BUILD_ID__ : 'dev';
}
