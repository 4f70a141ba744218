/**
 * Who is asking, for the length of one HTTP request: HttpServer runs each request inside
 * `requestContext.run({ client }, …)`, and whatever the request reaches (the decision scheduler's
 * per-client queues and fuel budgets) reads `currentClient()` without the client being threaded
 * through domain code, which must not know HTTP.
 *
 * Deliberately not here: how a client key is derived from a connection (HttpServer.ts decides:
 * the source address, folded to its /24 or /64 so one host cannot be many clients).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface RequestContext {
  /** A stable key for the requesting client (fairness and budgets are per key). */
  client: string;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

/** The current request's client key, or "local" outside any request (CLI, tests, replay). */
export function currentClient(): string {
  return requestContext.getStore()?.client ?? 'local';
}
