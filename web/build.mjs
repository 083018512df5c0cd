// Bundles the SDKs for the browser into callyard's static folder (or the folder given),
// and callyard's own pages: each folder of src/pages/ becomes pages/<name>/ there, its
// main.js bundled and its other files (index.html, style.css, ...) copied.
//   node build.mjs [OUTDIR]
import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(process.argv[2] || resolve(here, '../src/callyard/web/static'));

// One script per entry for the browsers agents use, with the licences of what it bundles.
const forBrowsers = {
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome100', 'firefox100', 'safari15'],
  minify: true,
  legalComments: 'inline',
  logLevel: 'warning',
};

await build({
  ...forBrowsers,
  entryPoints: {
    'agent-sdk': resolve(here, 'src/agent-sdk-entry.js'),
    'soft-phone-sdk': resolve(here, 'src/soft-phone-sdk-entry.js'),
  },
  outdir,
});
console.log(`built agent-sdk.js and soft-phone-sdk.js in ${outdir}`);

const pages = resolve(here, 'src/pages');
for (const name of existsSync(pages) ? readdirSync(pages) : []) {
  const source = resolve(pages, name);
  const target = resolve(outdir, 'pages', name);
  mkdirSync(target, { recursive: true });
  cpSync(source, target, { recursive: true, filter: (path) => !path.endsWith('.js') || path === source });
  if (existsSync(resolve(source, 'main.js'))) {
    await build({ ...forBrowsers, entryPoints: { main: resolve(source, 'main.js') }, outdir: target });
  }
  console.log(`built page ${name} in ${target}`);
}
