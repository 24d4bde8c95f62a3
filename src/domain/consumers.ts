/**
 * What an id the API owner chooses for a consumer must be (their own customer id, `cus_42`,
 * `initech`): 1–64 characters of letters, digits, `.`, `_`, `:` and `-`, starting with a letter
 * or digit, so it is a path segment as it is and never `.` or `..`. Unique within the tenant only.
 */
export const CONSUMER_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$';

/** The rule of CONSUMER_ID_PATTERN in words, for refusals and help texts. */
export const CONSUMER_ID_RULE = 'an id is 1–64 characters of letters, digits, ".", "_", ":" and "-", starting with a letter or digit';

/** Whether `id` is one an API owner may give a consumer (CONSUMER_ID_PATTERN). */
export function isConsumerId(id: string): boolean {
  return new RegExp(CONSUMER_ID_PATTERN).test(id);
}

/**
 * A consumer: a customer account of the API owner, whose member users create keys within what
 * the owner granted it (docs/consumers.md). Times are ms since the epoch.
 */
export interface Consumer {
  id: string;
  tenantId: string;
  name: string;
  /** Ids of users of the same tenant who may create and manage the consumer's keys. */
  members: string[];
  /** At most one per API. */
  grants: ConsumerGrant[];
  createdAt: number;
  updatedAt: number;
}

/**
 * The most the owner allows the consumer on one API. Its scopes, expiry, rate limits and credits
 * live on the grant key (`keyId`, an ApiKey with `grantOf` set whose secret nobody ever saw): the
 * consumer's keys are that key's children, so the key-chain rules make the grant one quota and
 * one ceiling for all of them.
 */
export interface ConsumerGrant {
  apiId: string;
  keyId: string;
  /** The most unrevoked keys the consumer may hold on the API (the grant key's children); null: the instance's sub-key limit. */
  maxKeys: number | null;
}
