/**
 * Express 4 installed beside Express 5 under the alias `express4` (`npm:express@^4`). Express 4
 * ships no types; the contract suite uses only what both versions share, typed as Express 5.
 */
declare module 'express4' {
  import express from 'express';

  export default express;
}
