import type { Logger } from '../lib/log.ts';

/** What earlier middleware puts on ctx.state for later middleware. */
export interface AppState {
  requestId: string;
  log: Logger;
}
