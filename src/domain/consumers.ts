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
