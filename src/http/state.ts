import type { Logger } from '../lib/log.ts';

/** What earlier middleware puts on ctx.state for later middleware. */
export interface AppState {
  requestId: string;
  log: Logger;
  /** Set by the vault adapter once it has parsed the request (for the request metrics). */
  apiPath?: string;
  operation?: string;
}
