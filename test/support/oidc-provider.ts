import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider from 'oidc-provider';

/** The resource (API) the test provider issues JWT access tokens for: the token's `aud`. */
export const API_RESOURCE = 'https://api.tenantgraph.test';

/** A machine client of the test provider: its client id is the token's `sub`, its org the tenant claims. */
export interface TestClient {
  readonly clientId: string;
  readonly clientSecret: string;
  /** Put into the token as `org.id` and `https://tenantgraph.test/tenant`. */
  readonly orgId: string;
  readonly orgRole?: string;
}

export interface TestProvider {
  readonly issuer: string;
  /** Paths the provider was asked for, in order (discovery and JWKS fetches show here). */
  readonly requests: string[];
  /** Registers a client; takes effect at the next `useKeys` (the provider is rebuilt then) or at once via {@link TestProvider.addClient}. */
  addClient(client: TestClient): void;
  /** A signing key (RS256) with a fresh `kid`. */
  newKey(): Promise<JWK>;
  /** Rebuilds the provider with these keys (the first one signs; all are published at jwks_uri): key rotation. */
  useKeys(keys: JWK[]): void;
  /** A JWT access token from the client credentials grant with a resource indicator (RFC 8707). */
  token(client: TestClient): Promise<string>;
  close(): Promise<void>;
}

/**
 * A real OpenID Provider (panva's certified `oidc-provider`) in-process on a free loopback port. Tokens come from
 * its token endpoint through the client credentials grant: with a resource indicator and a resource server that
 * asks for `accessTokenFormat: 'jwt'`, the access token is a JWT signed with the provider's current key, its
 * `sub` the client id and its extra claims the client's organisation (a string such as `org_…`), nested (`org.id`,
 * `org.role`) and URL-named (`https://tenantgraph.test/tenant`).
 */
export async function startTestProvider(): Promise<TestProvider> {
  const requests: string[] = [];
  const clients: TestClient[] = [];
  let current: Provider | undefined;
  let keys: JWK[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push(new URL(req.url ?? '/', 'http://localhost').pathname);
    void current!.callback()(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const build = () => {
    const byId = new Map(clients.map((client) => [client.clientId, client]));
    current = new Provider(issuer, {
      clients: clients.map((client) => ({
        client_id: client.clientId,
        client_secret: client.clientSecret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_post',
      })),
      jwks: { keys },
      features: {
        clientCredentials: { enabled: true },
        devInteractions: { enabled: false },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => API_RESOURCE,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resource) => {
            if (resource !== API_RESOURCE) throw new Error(`unknown resource ${resource}`);
            return { scope: 'api', audience: API_RESOURCE, accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
          },
        },
      },
      extraTokenClaims: (_ctx, token) => {
        const client = byId.get((token as { clientId?: string }).clientId ?? '');
        if (!client) return undefined;
        return {
          org: { id: client.orgId, ...(client.orgRole ? { role: client.orgRole } : {}) },
          'https://tenantgraph.test/tenant': client.orgId,
        };
      },
    });
  };

  return {
    issuer,
    requests,
    addClient(client) {
      clients.push(client);
      build();
    },
    async newKey() {
      const { privateKey } = await generateKeyPair('RS256', { extractable: true });
      return { ...(await exportJWK(privateKey)), kid: `key-${crypto.randomUUID()}`, alg: 'RS256', use: 'sig' };
    },
    useKeys(next) {
      keys = next;
      build();
    },
    async token(client) {
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: client.clientId,
          client_secret: client.clientSecret,
          resource: API_RESOURCE,
          scope: 'api',
        }),
      });
      const body = (await response.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!response.ok || !body.access_token) throw new Error(`token endpoint: ${response.status} ${body.error}: ${body.error_description}`);
      return body.access_token;
    },
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
