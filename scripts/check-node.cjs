// Preflight of every npm script that runs the service or its tests. Plain CommonJS with nothing
// newer than ES2015, so that an old Node reads it and says one clear sentence instead of failing
// on `node:sqlite` with a stack trace.
'use strict';
var wanted = require('../package.json').engines.node.replace(/^>=\s*/, '');
var want = wanted.split('.').map(Number);
var have = process.versions.node.split('.').map(Number);
var ok = have[0] > want[0] || (have[0] === want[0] && (have[1] || 0) >= (want[1] || 0));
if (!ok) {
  process.stderr.write('sessionsync needs Node ' + wanted + ' or newer, found ' + process.version + ' - see .nvmrc\n');
  process.exit(1);
}
