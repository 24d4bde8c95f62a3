/**
 * The `keygate` command as one bundle: dist/cli/main.js (what `npm start` and the bin run) with its
 * chunks beside it, written over tsc's dist/cli/main.js after `tsc` has built dist/ (`npm run
 * build` runs both). The library's entry points (`keygate`, `keygate/server`, the middleware)
 * stay tsc's files, one module each.
 *
 *   tsx scripts/bundle-cli.ts [--root DIR]     # DIR: a checkout whose dist/ tsc has built (default: this one)
 *
 * Why: Node 20 spends most of a start loading ES modules one by one (resolve, read, compile,
 * link: about 0.4 ms and 25 KB each). Keygate's own ~250 modules, TypeBox's 373 and Kysely's 262
 * were about half the CPU `keygate start` took to listen; bundled, they are a few files
 * (bench/startup.ts; docs/scale-out.md, "Start-up and memory"). Every other package stays in
 * node_modules, where `npm update` reaches it without a rebuild: above all Fastify, its plugins
 * and Ajv, which read what callers send (bundling Fastify too would save another ~50 ms of CPU,
 * not worth a server that keeps a parser its operator believes updated); also the native
 * better-sqlite3, and what loads on first use. Code is not minified and keeps its names, so
 * stack traces still read.
 *
 * `import.meta.url` in a bundled source file means its tsc twin's URL in dist/ (the console's
 * and portal's script folders are found next to it, tsc copies them there), so every output
 * file is written in dist/cli/, one folder below dist/.
 */
import { mkdirSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

/** Packages bundled: pure ES modules of many small files, loaded at every start. */
const BUNDLED_PACKAGES = ['typebox', 'kysely'];

const rootAt = process.argv.indexOf('--root');
const root = resolve(rootAt === -1 ? fileURLToPath(new URL('..', import.meta.url)) : process.argv[rootAt + 1]!);
const outdir = join(root, 'dist/cli');
// esbuild names files by their real path: a linked src/ (a test's scratch checkout) is followed.
const sources = realpathSync(join(root, 'src'));
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; peerDependencies?: Record<string, string> };
const external = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies })
  .filter((name) => !BUNDLED_PACKAGES.includes(name))
  .flatMap((name) => [name, `${name}/*`]);

/** `import.meta.url` of src/x/y.ts, bundled into dist/cli/, becomes the URL of dist/x/y.js. */
const twinUrls: Plugin = {
  name: 'tsc-twin-import-meta-url',
  setup(on) {
    on.onLoad({ filter: /\.ts$/ }, (args) => {
      if (!args.path.startsWith(sources)) return undefined;
      const source = readFileSync(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      const twin = relative(outdir, join(root, 'dist', relative(sources, args.path))).replace(/\\/g, '/').replace(/\.ts$/, '.js');
      return { contents: source.replaceAll('import.meta.url', `new URL(${JSON.stringify(twin)}, import.meta.url).href`), loader: 'ts', resolveDir: dirname(args.path) };
    });
  },
};

// The chunks of an earlier build go: their names change with their contents.
mkdirSync(outdir, { recursive: true });
for (const file of readdirSync(outdir)) if (file.startsWith('bundle-')) rmSync(join(outdir, file));
const result = await build({
  entryPoints: [join(root, 'src/cli/main.ts')],
  outdir,
  entryNames: '[name]',
  chunkNames: 'bundle-[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  keepNames: true,
  sourcemap: true,
  tsconfig: join(root, 'tsconfig.build.json'),
  plugins: [twinUrls],
  metafile: true,
  logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs).filter((file) => file.endsWith('.js'));
console.log(`bundled dist/cli/main.js: ${outputs.length} files, ${Object.keys(result.metafile.inputs).length} modules`);
