/**
 * The floor for bench/startup.ts: a bare Fastify 5 server with one route, `GET /healthz`,
 * started the way Keygate is (`node <file>`, no tsx, no build step), on PORT. With
 * `--sqlite DIR` it also opens DIR/floor.db with better-sqlite3 (WAL, as Keygate's SQLite store
 * does), creates one table, and the route reads from it: the floor of an embedded store.
 * Plain JavaScript on purpose: a TypeScript loader would add its own start-up to the floor.
 */
import Fastify from 'fastify';

const port = Number(process.env.PORT);
const sqliteAt = process.argv.indexOf('--sqlite');
let read = () => 1;
if (sqliteAt !== -1) {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(`${process.argv[sqliteAt + 1]}/floor.db`);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, v TEXT)');
  const select = db.prepare('SELECT count(*) AS n FROM floor');
  read = () => select.get().n;
}
const app = Fastify({ logger: false });
app.get('/healthz', async () => ({ status: 'ok', rows: read() }));
await app.listen({ port, host: '127.0.0.1' });
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
