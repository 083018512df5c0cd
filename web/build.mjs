// Bundles the SDKs for the browser into callyard's static folder (or the folder given):
//   node build.mjs [OUTDIR]
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(process.argv[2] || resolve(here, '../src/callyard/web/static'));

await build({
  entryPoints: {
    'agent-sdk': resolve(here, 'src/agent-sdk-entry.js'),
    'soft-phone-sdk': resolve(here, 'src/soft-phone-sdk-entry.js'),
  },
  outdir,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome100', 'firefox100', 'safari15'],
  minify: true,
  legalComments: 'inline',
  logLevel: 'warning',
});
console.log(`built agent-sdk.js and soft-phone-sdk.js in ${outdir}`);
