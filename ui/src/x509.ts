// Just enough DER to show a certificate in a list: the subject's common name and the notAfter time of an X.509
// certificate (RFC 5280 §4.1). Nothing here is trusted for a decision; it only labels what the broker returned.
interface Tlv {
  tag: number;
  start: number; // first content byte
  end: number; // one past the last content byte
}

function tlv(b: Uint8Array, at: number): Tlv {
  const tag = b[at] ?? 0;
  let len = b[at + 1] ?? 0;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (b[start + i] ?? 0);
    start += n;
  }
  return { tag, start, end: start + len };
}

function children(b: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const t = tlv(b, at);
    out.push(t);
    at = t.end;
  }
  return out;
}

const text = (b: Uint8Array, t: Tlv): string => new TextDecoder().decode(b.subarray(t.start, t.end));

/** UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) as ISO 8601. */
function time(b: Uint8Array, t: Tlv): string {
  const v = text(b, t);
  const full = t.tag === 0x17 ? `${Number(v.slice(0, 2)) >= 50 ? '19' : '20'}${v}` : v;
  return `${full.slice(0, 4)}-${full.slice(4, 6)}-${full.slice(6, 8)}T${full.slice(8, 10)}:${full.slice(10, 12)}:${full.slice(12, 14)}Z`;
}

/** The RDNs of a Name as "CN=…, O=…" (common name, organisation, organisational unit; other attributes left out). */
function name(b: Uint8Array, t: Tlv): string {
  const labels: Record<string, string> = { '550403': 'CN', '55040a': 'O', '55040b': 'OU' };
  const parts: string[] = [];
  for (const set of children(b, t)) {
    for (const atv of children(b, set)) {
      const [oid, value] = children(b, atv);
      if (!oid || !value) continue;
      const hex = [...b.subarray(oid.start, oid.end)].map((x) => x.toString(16).padStart(2, '0')).join('');
      if (labels[hex]) parts.push(`${labels[hex]}=${text(b, value)}`);
    }
  }
  return parts.join(', ');
}

export interface CertSummary {
  subject: string;
  notAfter: string;
}

/** The subject and expiry of the first certificate in a PEM text, or null if it does not parse. */
export function summarise(pem: string): CertSummary | null {
  try {
    const m = /-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/.exec(pem);
    if (!m?.[1]) return null;
    const b = Uint8Array.from(atob(m[1].replace(/\s+/g, '')), (c) => c.charCodeAt(0));
    const [tbs] = children(b, tlv(b, 0));
    if (!tbs) return null;
    const f = children(b, tbs);
    const o = f[0]?.tag === 0xa0 ? 1 : 0; // [0] version is optional
    const validity = f[o + 3];
    const subject = f[o + 4];
    if (!validity || !subject) return null;
    const notAfter = children(b, validity)[1];
    return notAfter ? { subject: name(b, subject), notAfter: time(b, notAfter) } : null;
  } catch {
    return null;
  }
}
