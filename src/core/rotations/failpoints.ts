/** Parses SEALBOX_TEST_FAILPOINTS, honoured only when SEALBOX_TEST_MODE=1 (never in production). */
export function failpointsFrom(env: NodeJS.ProcessEnv): Set<string> {
  if (env.SEALBOX_TEST_MODE !== '1' || !env.SEALBOX_TEST_FAILPOINTS) return new Set();
  return new Set(env.SEALBOX_TEST_FAILPOINTS.split(',').map((s) => s.trim()).filter(Boolean));
}
