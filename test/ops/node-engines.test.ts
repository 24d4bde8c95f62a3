import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

interface LockedPackage {
  version?: string;
  engines?: { node?: string } | string[];
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Every package npm installs from the lock file, with the Node range it declares (if any). */
function lockedNodeRanges(): { path: string; version: string; range: string }[] {
  const lock = readJson<{ packages: Record<string, LockedPackage> }>(join(ROOT, 'package-lock.json'));
  const ranges: { path: string; version: string; range: string }[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    // Old packages wrote engines as an array of strings, which npm ignores.
    const range = path !== '' && entry.engines && !Array.isArray(entry.engines) ? entry.engines.node : undefined;
    if (range !== undefined) ranges.push({ path, version: entry.version ?? '', range });
  }
  return ranges;
}

describe('Node version support', () => {
  const floor = semver.minVersion(readJson<{ engines: { node: string } }>(join(ROOT, 'package.json')).engines.node)!.version;

  it('supports Node 20, where this project is tested and run', () => {
    expect(floor).toBe('20.19.0');
  });

  // npm warns EBADENGINE for each locked package whose `engines.node` excludes the running Node:
  // a dependency that wants Node 22 must be pinned to a release that still supports Node 20.
  it('locks only packages whose engines accept the lowest supported Node and the running one', () => {
    const ranges = lockedNodeRanges();
    expect(ranges.length).toBeGreaterThan(50);
    const refused = ranges.filter(({ range }) => !semver.satisfies(floor, range) || !semver.satisfies(process.versions.node, range));
    expect(refused).toEqual([]);
  });

  it('has installed what the lock file says, so the check above is about the running tree', () => {
    const drifted = lockedNodeRanges()
      .filter(({ path }) => existsSync(join(ROOT, path, 'package.json')))
      .filter(({ path, version }) => readJson<{ version: string }>(join(ROOT, path, 'package.json')).version !== version);
    expect(drifted).toEqual([]);
  });
});
