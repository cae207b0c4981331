import { SignJWT } from 'jose';

export interface IssueTokenOptions {
  secret: string;
  tenantId: string;
  userId: string;
  /** jose duration, e.g. "1h", "30d". */
  ttl?: string;
  tenantClaim?: string;
  issuer?: string;
  audience?: string;
}

/**
 * Signs an HS256 token for one member of one tenant (CLI, demo headers, tests). The tenant id goes out as a
 * decimal string so ids above 2^53 survive JSON parsing anywhere.
 */
export async function issueToken(options: IssueTokenOptions): Promise<string> {
  let jwt = new SignJWT({ [options.tenantClaim ?? 'tenant_id']: options.tenantId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.userId)
    .setIssuedAt()
    .setExpirationTime(options.ttl ?? '1h');
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret));
}
