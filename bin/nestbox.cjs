#!/usr/bin/env node
'use strict';
// The built CLI lives in out/node; `npm install` / `npm ci` builds it (the `prepare` script).
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'out', 'node', 'nestbox.cjs');
if (!fs.existsSync(entry)) {
  process.stderr.write('nestbox: the CLI is not built yet; run `npm run build:node` in ' + path.dirname(__dirname) + '\n');
  process.exit(1);
}
require(entry);
