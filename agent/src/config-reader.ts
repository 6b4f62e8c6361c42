/** Small helpers to validate a parsed config object field by field, with errors that name the field. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads fields of one object; `where` is its path in the config ("auth", "secrets[2]"). */
export class Fields {
  private readonly seen = new Set<string>();
  constructor(
    readonly obj: Obj,
    readonly where: string,
  ) {}

  name(key: string): string {
    return this.where ? `${this.where}.${key}` : key;
  }

  fail(key: string, message: string): never {
    throw new ConfigError(`${this.name(key)}: ${message}`);
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  raw(key: string): unknown {
    this.seen.add(key);
    return this.obj[key];
  }

  optString(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v.trim() === '') this.fail(key, 'must be a non-empty string');
    return v;
  }

  string(key: string, hint = ''): string {
    const v = this.optString(key);
    if (v === undefined) this.fail(key, `is required${hint ? ` (${hint})` : ''}`);
    return v;
  }

  optBool(key: string): boolean | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') this.fail(key, 'must be true or false');
    return v;
  }

  optInt(key: string, min: number, max: number): number | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(key, `must be an integer from ${min} to ${max}`);
    return v;
  }

  optObj(key: string): Fields | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return undefined;
    if (!isObj(v)) this.fail(key, 'must be a mapping (object)');
    return new Fields(v, this.name(key));
  }

  obj_(key: string, hint = ''): Fields {
    const f = this.optObj(key);
    if (!f) this.fail(key, `is required${hint ? ` (${hint})` : ''}`);
    return f;
  }

  /** Call last: any key not read is a typo or a field this method does not take. */
  done(): void {
    for (const key of Object.keys(this.obj)) {
      if (!this.seen.has(key)) this.fail(key, 'unknown field');
    }
  }
}
