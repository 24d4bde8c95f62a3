import { createRequire } from 'node:module';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';

type Factories = Required<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>>;

/* What Fastify hands a compiler and takes back, structurally (Ajv's own types are a union over its modes). */
interface RouteSchema {
  schema: unknown;
  method: string;
  url: string;
  httpPart?: string;
}
type Validate = ((data: unknown, context?: unknown) => unknown) & { errors?: unknown; schemaEnv?: unknown };
type ValidatorFactory = (externalSchemas: unknown, options: Record<string, unknown>) => (route: RouteSchema) => Validate;
type Serialize = (data: unknown) => string;
type SerializerFactory = (externalSchemas: unknown, options: unknown) => (route: RouteSchema) => Serialize;

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Compiles every route schema not compiled yet (they are compiled on first use) and says how
     * many it compiled: a test's proof that each one compiles, as Fastify's eager compilation was.
     */
    compileSchemas(): number;
  }
}

/*
 * Fastify's own default compilers, loaded from where Fastify itself loads them (they are its
 * dependencies, not ours), only when the first schema is compiled.
 */
const fastifyRequire = createRequire(createRequire(import.meta.url).resolve('fastify'));
const ownRequire = createRequire(import.meta.url);

/**
 * Fastify's validator (Ajv, with ajv-formats) and serializer (fast-json-stringify) compilers,
 * each schema compiled on the first request that needs it instead of all of them before the
 * server listens. A route answers exactly as before; its first request pays for its own
 * schemas (about a millisecond each), and a start pays for none: compiling every schema of
 * every route was a third of Keygate's start-up CPU and a sizeable part of its idle memory
 * (bench/startup.ts). Ajv itself is loaded with the first validator.
 *
 * Header schemas are refused: Fastify lower-cases their property names only for its default
 * compiler, and no route declares one (headers are read by hooks).
 *
 * @example
 * const lazy = lazyCompilers();
 * const app = Fastify({ schemaController: { compilersFactory: lazy.compilersFactory } });
 * lazy.decorate(app);
 */
export function lazyCompilers(): { compilersFactory: Factories; decorate(app: FastifyInstance): void } {
  const pending = new Set<() => void>();
  let ajvFactory: ValidatorFactory | null = null;
  let fjsFactory: SerializerFactory | null = null;

  const buildValidator: ValidatorFactory = (externalSchemas, options) => {
    let compiler: ReturnType<ValidatorFactory> | null = null;
    return (route) => {
      if (route.httpPart === 'headers') throw new TypeError(`${route.method} ${route.url}: header schemas are not supported; read headers in a hook`);
      let compiled: Validate | null = null;
      const real = (): Validate => {
        if (compiled === null) {
          ajvFactory ??= fastifyRequire('@fastify/ajv-compiler')() as ValidatorFactory;
          // ajv-formats named explicitly (Fastify's compiler would add it by default too): formats are part of our schemas' meaning.
          compiler ??= ajvFactory(externalSchemas, { ...options, plugins: [ownRequire('ajv-formats')] });
          compiled = compiler(route);
          pending.delete(compile);
        }
        return compiled;
      };
      const compile = (): void => void real();
      pending.add(compile);
      const validate: Validate = (data, context) => {
        const fn = real();
        const result = fn(data, context);
        validate.errors = fn.errors ?? null;
        return result;
      };
      // Fastify reads this before each call (an Ajv function takes the parent object then): the first read compiles.
      Object.defineProperty(validate, 'schemaEnv', { get: () => real().schemaEnv });
      return validate;
    };
  };

  const buildSerializer: SerializerFactory = (externalSchemas, options) => {
    let compiler: ReturnType<SerializerFactory> | null = null;
    return (route) => {
      let compiled: Serialize | null = null;
      const real = (): Serialize => {
        if (compiled === null) {
          fjsFactory ??= fastifyRequire('@fastify/fast-json-stringify-compiler')() as SerializerFactory;
          compiler ??= fjsFactory(externalSchemas, options);
          compiled = compiler(route);
          pending.delete(compile);
        }
        return compiled;
      };
      const compile = (): void => void real();
      pending.add(compile);
      return (data) => real()(data);
    };
  };

  return {
    compilersFactory: { buildValidator: buildValidator as unknown as Factories['buildValidator'], buildSerializer: buildSerializer as unknown as Factories['buildSerializer'] },
    decorate(app) {
      app.decorate('compileSchemas', () => {
        const all = [...pending];
        for (const compile of all) compile();
        return all.length;
      });
    },
  };
}
