/**
 * The tokenizer of the HCL (version 1) syntax that Vault's policy documents use: identifiers, quoted strings with
 * escapes, heredocs (`<<EOT` and the indented `<<-EOT`), numbers, booleans, the punctuation `= { } [ ] ,` and the
 * comments `#`, `//` and `/* *\/`. Every failure is an HclSyntaxError with a line and column.
 */

export type TokenKind = 'ident' | 'string' | 'number' | 'bool' | '=' | '{' | '}' | '[' | ']' | ',' | 'eof';

export interface Token {
  kind: TokenKind;
  /** The decoded value: a string's text (escapes applied), a number, a boolean, an identifier's name. */
  value: string | number | boolean;
  line: number;
  column: number;
}

export class HclSyntaxError extends Error {
  readonly line: number;
  readonly column: number;
  constructor(message: string, line: number, column: number) {
    super(`line ${line}, column ${column}: ${message}`);
    this.name = 'HclSyntaxError';
    this.line = line;
    this.column = column;
  }
}

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_.-]/;
const NUMBER = /^-?(?:0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/;
const PUNCT = new Set(['=', '{', '}', '[', ']', ',']);
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', a: '\x07', b: '\b', f: '\f', v: '\v' };

/** Cuts `text` into tokens; the last one is always `eof`. */
export function tokenize(text: string, maxTokens = 200_000): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let line = 1;
  let lineStart = 0;
  const col = (at: number): number => at - lineStart + 1;
  const fail = (message: string, at: number = pos): never => {
    throw new HclSyntaxError(message, line, col(at));
  };
  const newline = (at: number): void => {
    line++;
    lineStart = at + 1;
  };
  const push = (kind: TokenKind, value: string | number | boolean, at: number, atLine: number, atLineStart: number): void => {
    if (tokens.length >= maxTokens) fail(`more than ${maxTokens} tokens`);
    tokens.push({ kind, value, line: atLine, column: at - atLineStart + 1 });
  };

  while (pos < text.length) {
    const c = text[pos] ?? '';
    if (c === '\n') {
      newline(pos);
      pos++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\ufeff') {
      pos++;
      continue;
    }
    if (c === '#' || (c === '/' && text[pos + 1] === '/')) {
      while (pos < text.length && text[pos] !== '\n') pos++;
      continue;
    }
    if (c === '/' && text[pos + 1] === '*') {
      const start = pos;
      const end = text.indexOf('*/', pos + 2);
      if (end === -1) fail('unterminated /* comment', start);
      for (let i = pos; i < end; i++) if (text[i] === '\n') newline(i);
      pos = end + 2;
      continue;
    }
    const startLine = line;
    const startLineStart = lineStart;
    const start = pos;
    if (PUNCT.has(c)) {
      push(c as TokenKind, c, start, startLine, startLineStart);
      pos++;
      continue;
    }
    if (c === '"') {
      pos++;
      let out = '';
      for (;;) {
        if (pos >= text.length) fail('unterminated string', start);
        const ch = text[pos] ?? '';
        if (ch === '"') break;
        if (ch === '\n') fail('newline in a string (close the quote, or use a heredoc)', pos);
        if (ch === '\\') {
          const e = text[pos + 1] ?? '';
          if (e in ESCAPES) {
            out += ESCAPES[e];
            pos += 2;
            continue;
          }
          if (e === 'u' || e === 'U') {
            const n = e === 'u' ? 4 : 8;
            const hex = text.slice(pos + 2, pos + 2 + n);
            if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) fail(`bad \\${e} escape: expected ${n} hex digits`, pos);
            const cp = parseInt(hex, 16);
            if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) fail(`bad \\${e} escape: not a Unicode scalar value`, pos);
            out += String.fromCodePoint(cp);
            pos += 2 + n;
            continue;
          }
          fail(`unknown escape "\\${e}"`, pos);
        }
        out += ch;
        pos++;
      }
      pos++;
      push('string', out, start, startLine, startLineStart);
      continue;
    }
    if (c === '<' && text[pos + 1] === '<') {
      const m = /^<<(-?)([A-Za-z_][A-Za-z0-9_-]*)\r?\n/.exec(text.slice(pos, pos + 300));
      if (!m) fail('bad heredoc: expected <<MARKER (or <<-MARKER) and a newline', start);
      const indent = m?.[1] === '-';
      const marker = m?.[2] ?? '';
      pos += m?.[0].length ?? 0;
      newline(pos - 1);
      const lines: string[] = [];
      for (;;) {
        if (pos >= text.length) fail(`unterminated heredoc: no closing ${marker} line`, start);
        let end = text.indexOf('\n', pos);
        if (end === -1) end = text.length;
        const raw = text.slice(pos, end).replace(/\r$/, '');
        const atEnd = end;
        pos = Math.min(end + 1, text.length);
        if ((indent ? raw.trim() : raw.trimEnd()) === marker) {
          if (atEnd < text.length) newline(atEnd);
          break;
        }
        lines.push(raw);
        if (atEnd < text.length) newline(atEnd);
      }
      let body = lines;
      if (indent) {
        const widths = lines.filter((l) => l.trim() !== '').map((l) => /^[ \t]*/.exec(l)?.[0].length ?? 0);
        const cut = widths.length > 0 ? Math.min(...widths) : 0;
        body = lines.map((l) => l.slice(cut));
      }
      push('string', body.map((l) => `${l}\n`).join(''), start, startLine, startLineStart);
      continue;
    }
    if (/[0-9-]/.test(c) || (c === '.' && /[0-9]/.test(text[pos + 1] ?? ''))) {
      const m = NUMBER.exec(text.slice(pos, pos + 400));
      if (!m) fail(`unexpected "${c}"`);
      const lit = m?.[0] ?? '';
      const after = text[pos + lit.length] ?? '';
      if (IDENT_PART.test(after)) fail(`bad number "${(lit + after).slice(0, 40)}"`);
      const n = /0x/i.test(lit) ? (lit.startsWith('-') ? -1 : 1) * parseInt(lit.replace(/^-?0x/i, ''), 16) : Number(lit);
      if (!Number.isFinite(n)) fail(`number "${lit.slice(0, 40)}" out of range`);
      push('number', n, start, startLine, startLineStart);
      pos += lit.length;
      continue;
    }
    if (IDENT_START.test(c)) {
      let end = pos + 1;
      while (end < text.length && IDENT_PART.test(text[end] ?? '')) end++;
      const word = text.slice(pos, end);
      if (word === 'true' || word === 'false') push('bool', word === 'true', start, startLine, startLineStart);
      else push('ident', word, start, startLine, startLineStart);
      pos = end;
      continue;
    }
    const cp = text.codePointAt(pos) ?? 0;
    fail(cp < 0x20 || cp === 0x7f ? `unexpected control character U+${cp.toString(16).padStart(4, '0')}` : `unexpected "${String.fromCodePoint(cp)}"`);
  }
  push('eof', '', pos, line, lineStart);
  return tokens;
}
