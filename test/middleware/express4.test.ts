import { describe, it } from 'vitest';
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
    it.skip('runs the contract (skipped: the dev dependency express4 is not installed; npm install --save-dev express4@npm:express@^4.22.1)', () => {});
  });
} else {
  runMiddlewareContract({
    name: 'express 4',
    keygateAuth,
    start: (options) => startExpressApp(express4, options),
  });
}
