#!/usr/bin/env node
'use strict';
// The built CLI lives in out/node; `npm install` / `npm ci` builds it (the `prepare` script).
// nestbox-launch.cjs loads it with a compile cache (src/cli/launch.ts).
const path = require('node:path');
const fs = require('node:fs');
const dir = path.join(__dirname, '..', 'out', 'node');
const entry = path.join(dir, 'nestbox.cjs');
const launcher = path.join(dir, 'nestbox-launch.cjs');
if (!fs.existsSync(entry) || !fs.existsSync(launcher)) {
  process.stderr.write('nestbox: the CLI is not built yet; run `npm run build:node` in ' + path.dirname(__dirname) + '\n');
  process.exit(1);
}
require(launcher).launch(entry, require);
