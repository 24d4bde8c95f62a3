import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import { MAX_USAGE_POINTS } from '../../domain/usage.js';
import type { Tenant } from '../../domain/tenants.js';
import type { Keygate } from '../../services/keygate.js';
import { USAGE_BREAKDOWNS, type UsageBreakdown, type UsageQuery as ServiceQuery, type UsageSeries } from '../../services/usage-query-service.js';
import { requireScope } from '../auth.js';
import { instant } from './audit.js';
import { ERROR_RESPONSES, TenantParams, Timestamp } from '../schemas.js';

const Granularity = Type.Union([Type.Literal('minute'), Type.Literal('hour'), Type.Literal('day')]);

export const UsageQuery = Type.Object(
  {
    api: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'Only this API (identifier or id).' })),
    key: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Only requests made with this key id.' })),
    consumer: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Only requests of keys of this consumer.' })),
    operation: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'Only this gateway operation (its operationId, else `METHOD /template`).' })),
    from: Type.Optional({ ...Timestamp, description: 'UTC ISO-8601; the series starts at the bucket holding it. Default: `to` minus an hour (minute), a day (hour) or 30 days (day).' }),
    to: Type.Optional({ ...Timestamp, description: 'UTC ISO-8601, exclusive. Default: now.' }),
    granularity: Type.Optional({ ...Granularity, description: 'Bucket size; default `hour`.' }),
  },
  { additionalProperties: false },
);

const Counts = Type.Record(Type.String(), Type.Integer());

export const UsageBreakdownQuery = Type.Object(
  {
    ...UsageQuery.properties,
    by: Type.Union(
      USAGE_BREAKDOWNS.map((by) => Type.Literal(by)),
      { description: 'What to add up by: `key` (key id), `consumer` (the key\'s consumer) or `operation` (the gateway operation).' },
    ),
    limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$', description: 'How many of the busiest to answer, 1–100 (default 10).' })),
  },
  { additionalProperties: false },
);

export const UsageBreakdownView = Type.Object({
  by: Type.String(),
  granularity: Granularity,
  from: Timestamp,
  to: Timestamp,
  items: Type.Array(
    Type.Object({
      name: Type.Union([Type.String(), Type.Null()], { description: 'The key id, consumer or operation; null for requests of none (an unknown credential, a key without consumer, a verify call).' }),
      requests: Type.Integer(),
      outcomes: { ...Counts, description: 'Requests per outcome, as in the series.' },
    }),
    { maxItems: 100 },
  ),
  total: Type.Integer({ description: 'How many keys, consumers or operations had requests in the range; `items` are the busiest of them.' }),
});

export const UsageSeriesView = Type.Object({
  granularity: Granularity,
  from: Timestamp,
  to: Timestamp,
  points: Type.Array(
    Type.Object({
      at: { ...Timestamp, description: 'Start of the bucket.' },
      requests: Type.Integer(),
      outcomes: { ...Counts, description: 'Requests per outcome: `allowed`, or the denial\'s code (`NOT_FOUND`, `INSUFFICIENT_SCOPE`, `RATE_LIMITED`, `NO_ROUTE`, …).' },
      statusClasses: { ...Counts, description: 'Forwarded requests per upstream status class (`2xx` … `5xx`).' },
      latencyMs: Type.Object(
        { avg: Type.Number(), p50: Type.Number(), p90: Type.Number(), p99: Type.Number() },
        { description: 'Latency as Keygate saw it; percentiles interpolated in a fixed histogram (docs/usage.md).' },
      ),
    }),
    { maxItems: MAX_USAGE_POINTS },
  ),
});

/** The service's query for a validated `UsageQuery`, the API resolved within the tenant (another tenant's is API_NOT_FOUND). */
async function queryOf(keygate: Keygate, tenant: Tenant, query: Static<typeof UsageQuery>): Promise<ServiceQuery> {
  const { api, key, consumer, operation, from, to, granularity } = query;
  return {
    ...(api !== undefined ? { apiId: (await keygate.apis.get(tenant, api)).id } : {}),
    ...(key !== undefined ? { keyId: key } : {}),
    ...(consumer !== undefined ? { consumer } : {}),
    ...(operation !== undefined ? { operation } : {}),
    ...(from !== undefined ? { from: instant('from', from) } : {}),
    ...(to !== undefined ? { to: instant('to', to) } : {}),
    ...(granularity !== undefined ? { granularity } : {}),
  };
}

function seriesView(series: UsageSeries): Static<typeof UsageSeriesView> {
  return {
    granularity: series.granularity,
    from: new Date(series.from).toISOString(),
    to: new Date(series.to).toISOString(),
    points: series.points.map((p) => ({ ...p, at: new Date(p.at).toISOString() })),
  };
}

function breakdownView(breakdown: UsageBreakdown): Static<typeof UsageBreakdownView> {
  return { ...breakdown, from: new Date(breakdown.from).toISOString(), to: new Date(breakdown.to).toISOString() };
}

export const usageRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  app.get(
    '/v1/tenants/:slug/usage',
    {
      onRequest: requireScope(keygate, 'usage:read'),
      schema: {
        tags: ['usage'],
        summary: 'Usage time series of the tenant: requests by outcome and status class, latency percentiles',
        description:
          'Gateway requests and `POST /v1/verify` calls, counted per key, consumer and operation by minute, hour and day (docs/usage.md). ' +
          'Up to a second behind: each instance writes its counts once a second.',
        params: TenantParams,
        querystring: UsageQuery,
        response: { 200: UsageSeriesView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      return seriesView(await keygate.usageQueries.series(tenant, await queryOf(keygate, tenant, request.query)));
    },
  );

  app.get(
    '/v1/tenants/:slug/usage/breakdown',
    {
      onRequest: requireScope(keygate, 'usage:read'),
      schema: {
        tags: ['usage'],
        summary: 'The busiest keys, consumers or operations of the tenant, each by outcome',
        description: 'The same range and filters as the series (docs/usage.md), added up per key, consumer or operation; most requests first.',
        params: TenantParams,
        querystring: UsageBreakdownQuery,
        response: { 200: UsageBreakdownView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { by, limit, ...query } = request.query;
      const breakdown = await keygate.usageQueries.breakdown(tenant, await queryOf(keygate, tenant, query), { by, limit: limit === undefined ? 10 : Number(limit) });
      return breakdownView(breakdown);
    },
  );
};
