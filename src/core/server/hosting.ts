/**
 * What hosting the core needs (the headless daemon and web mode), as one entry point. The
 * CLI loads it only for `nestbox daemon` and `nestbox serve`, so every other command starts
 * without compiling the core: the build (scripts/build-node.mjs) makes it a bundle of its own
 * next to the CLI's.
 */
export { idleSecondsFromEnv, startDaemon } from './daemon';
export { startServe } from './serve';
export { isLoopback } from './web';
