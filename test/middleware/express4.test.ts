import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type express from 'express';
import { keygateAuth } from '../../src/middleware/express/index.js';
import { runMiddlewareContract } from './contract.js';
import { startExpressApp } from './express-app.js';

/** Express 4, installed as the dev dependency alias `express4` (`npm:express@^4`) beside Express 5. */
const express4 = await import('express4').then(
  (module): typeof express => module.default,
  () => null,
);

if (express4 === null) {
  describe('keygate middleware contract: express 4', () => {
    it.skip('runs the contract (skipped: the dev dependency express4 is not installed; npm install --save-dev express4@npm:express@^4.22.3)', () => {});
  });
} else {
  const { version } = createRequire(import.meta.url)('express4/package.json') as { version: string };
  describe('the express4 alias', () => {
    it('is Express 4, so the contract below does not run Express 5 twice', () => {
      expect(version).toMatch(/^4\./);
    });
  });
  runMiddlewareContract({
    name: `express ${version}`,
    keygateAuth,
    start: (options) => startExpressApp(express4, options),
  });
}
