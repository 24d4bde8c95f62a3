import express from 'express';
import { keygateAuth } from '../../src/middleware/express/index.js';
import { runMiddlewareContract } from './contract.js';
import { startExpressApp } from './express-app.js';

runMiddlewareContract({
  name: 'express 5',
  keygateAuth,
  start: (options) => startExpressApp(express, options),
});
