/** The PKI paths' parameters, parsed before a handler runs (`byRole.op(input, handler)` gets `params.role` typed). */
import { z } from 'zod';
import { withParams } from '../../core/engine.ts';
import { name } from '../../lib/names.ts';

export const byRole = withParams(z.object({ role: name }));
export const byName = withParams(z.object({ name }));
/** An issuer reference: "default", an issuer ID or an issuer name (resolved by the handler). */
export const byRef = withParams(z.object({ ref: z.string().min(1).max(128) }));
/** issuer/:ref/issue/:role and issuer/:ref/sign/:role. */
export const byRefRole = withParams(z.object({ ref: z.string().min(1).max(128), role: name }));
export const byType = withParams(
  z.object({ type: z.enum(['internal', 'exported'], { error: (iss) => `unsupported type "${String(iss.input).slice(0, 32)}": use "internal" or "exported"` }) }),
);
export const bySerial = withParams(z.object({ serial: z.string().min(1).max(128) }));
