/**
 * Finds another tenant's data in the raw text of a response, without trusting the response's shape.
 *
 * Three kinds of evidence, each mapped back to the tenant it belongs to:
 *   - markers: every string a tenant writes (titles, bodies, emails, names, request ids) contains its marker;
 *   - row ids: UUIDs, found as they are or inside any base64url token (global ids and cursors encode them);
 *   - tenant ids: the numeric ids, as they are or inside a decoded token.
 * A response may echo back what its own request sent (`No conversation with id "…" exists.`), so the errors of
 * a response may contain tokens that its variables contain; its `data` may never contain another tenant's.
 */
const MARKER = /fz[0-9a-z]{8}t\d/gi;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const BASE64URL_TOKEN = /[A-Za-z0-9_-]{16,}/g;
const DIGITS = /\d{6,20}/g;

export function newMarker(runTag: string, tenantIndex: number): string {
  return `fz${runTag}t${tenantIndex}`;
}

export class LeakDetector {
  /** UUID or tenant id -> the marker of the tenant that owns it. */
  private readonly owners = new Map<string, string>();

  register(token: string, marker: string): void {
    this.owners.set(token.toLowerCase(), marker);
  }

  ownerOf(token: string): string | undefined {
    return this.owners.get(token.toLowerCase());
  }

  /** Every piece of evidence in `text`, as token -> owning marker. */
  evidence(text: string): Map<string, string> {
    const found = new Map<string, string>();
    const look = (chunk: string) => {
      for (const [marker] of chunk.matchAll(MARKER)) found.set(marker.toLowerCase(), marker.toLowerCase());
      for (const [token] of [...chunk.matchAll(UUID), ...chunk.matchAll(DIGITS)]) {
        const owner = this.owners.get(token.toLowerCase());
        if (owner) found.set(token.toLowerCase(), owner);
      }
    };
    look(text);
    for (const [token] of text.matchAll(BASE64URL_TOKEN)) look(Buffer.from(token, 'base64url').toString('latin1'));
    return found;
  }

  /**
   * Problems with one response of `caller`'s: evidence of any other tenant in `data`, or in the rest of the body
   * unless the request itself carried it.
   */
  scan(caller: string, rawText: string, body: { data?: unknown } | null, variables: unknown): string[] {
    const problems: string[] = [];
    const sent = this.evidence(JSON.stringify(variables ?? null));
    const strictText = body ? JSON.stringify(body.data ?? null) : rawText;
    const restText = body ? JSON.stringify({ ...body, data: undefined }) : '';
    for (const [token, owner] of this.evidence(strictText)) {
      if (owner !== caller) problems.push(`data contains ${token}, which belongs to tenant ${owner}`);
    }
    for (const [token, owner] of this.evidence(restText)) {
      if (owner !== caller && !sent.has(token)) problems.push(`errors contain ${token}, which belongs to tenant ${owner}`);
    }
    return problems;
  }
}
