import { SignJWT, type JWTPayload } from 'jose';
import { parseClaimPath } from './claim-path.js';

export interface IssueTokenOptions {
  secret: string;
  /** The tenant's id, or its external id (tenants.external_id): the value the server's tenant claim expects. */
  tenantId: string;
  /** The member's id, or its external subject (users.external_subject). */
  userId: string;
  /** jose duration, e.g. "1h", "30d". */
  ttl?: string;
  /** Claim path of the tenant (claim-path.ts), default `tenant_id`; nested paths make nested objects. */
  tenantClaim?: string;
  /** Claim path of the member, default `sub`. */
  subjectClaim?: string;
  issuer?: string;
  audience?: string;
}

/**
 * Signs an HS256 token for one member of one tenant (CLI, demo headers, tests), with the claims where the server
 * looks for them. The tenant id goes out as a decimal string so ids above 2^53 survive JSON parsing anywhere.
 */
export async function issueToken(options: IssueTokenOptions): Promise<string> {
  const claims: JWTPayload = {};
  place(claims, parseClaimPath(options.tenantClaim ?? 'tenant_id'), options.tenantId);
  const subjectPath = parseClaimPath(options.subjectClaim ?? 'sub');
  // `sub` is always set (the token's subject); a subject claim elsewhere carries the member too.
  if (subjectPath.length !== 1 || subjectPath[0] !== 'sub') place(claims, subjectPath, options.userId);
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.userId)
    .setIssuedAt()
    .setExpirationTime(options.ttl ?? '1h');
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret));
}

function place(claims: Record<string, unknown>, path: readonly string[], value: string): void {
  let target = claims;
  for (const key of path.slice(0, -1)) {
    const next = (target[key] ??= {}) as Record<string, unknown>;
    target = next;
  }
  target[path.at(-1)!] = value;
}
