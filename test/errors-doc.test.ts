import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_REGISTRY } from '../src/domain/errors.js';
import { OAUTH_ERRORS } from '../src/domain/oauth/errors.js';
import { VERIFICATION_CODES } from '../src/domain/verification.js';

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');

function tableAfter(heading: string): Map<string, string[]> {
  const section = doc.split(`## ${heading}`)[1]!.split('\n## ')[0]!;
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const match = /^\| `([A-Za-z_]+)` \|(.*)\|$/.exec(line);
    if (match) rows.set(match[1]!, match[2]!.split('|').map((c) => c.trim()));
  }
  return rows;
}

describe('docs/errors.md', () => {
  it('lists exactly the codes of the error registry, with their statuses', () => {
    const rows = tableAfter('Management error codes');
    expect([...rows.keys()].sort()).toEqual(Object.keys(ERROR_REGISTRY).sort());
    for (const [code, entry] of Object.entries(ERROR_REGISTRY)) expect(rows.get(code)![0]).toBe(String(entry.status));
  });

  it('lists exactly the OAuth error codes, with their usual statuses', () => {
    const rows = tableAfter('OAuth errors');
    expect([...rows.keys()].sort()).toEqual(Object.keys(OAUTH_ERRORS).sort());
    for (const [code, entry] of Object.entries(OAUTH_ERRORS)) expect(rows.get(code)![0]).toBe(String(entry.status));
  });

  it('lists exactly the verification result codes', () => {
    expect([...tableAfter('Verification result codes').keys()].sort()).toEqual([...VERIFICATION_CODES].sort());
  });
});
