/**
 * The agent's routes that need none of the decision machinery: GET /v1/status and POST /v1/modules
 * (the endpoints themselves are documented with the rest of the API in api.ts). They are given to
 * the HTTP server at start; the others (api.ts: releases, check-ins, approvals, signing, the
 * wallet, content) are imported at the first request that needs one of them, so an agent that has
 * only been asked for its status or sent modules holds none of their code (issue 15, memory budget).
 *
 * Deliberately not here: the decision endpoints (api.ts) and HTTP mechanics (HttpServer.ts).
 */
import type { Clock } from './Clock.ts';
import type { Route } from './HttpServer.ts';
import type { ModuleStore } from './ModuleStore.ts';

export interface CoreDeps {
  modules: Pick<ModuleStore, 'add'>;
  clock: Clock;
  status: () => Record<string, unknown>;
}

/** GET /v1/status and POST /v1/modules. */
export function coreRoutes(d: CoreDeps): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/status',
      maxBody: 0,
      handle: async () => {
        await d.clock.now().catch(() => {}); // refreshes the reported time; a clock fault shows in the next decision
        return { status: 200, body: d.status() };
      },
    },
    {
      method: 'POST',
      path: '/v1/modules',
      maxBody: 1 << 20,
      rawBody: true,
      handle: async (body) => ({ status: 201, body: { sha256: await d.modules.add(body as Uint8Array) } }),
    },
  ];
}
