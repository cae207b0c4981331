import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConversationsDocument, DashboardDocument, ViewerDocument } from '../../src/__generated__/sdk/graphql.js';
import { createClient, documentIdOf } from '../../src/sdk/client.js';
import { loadTrustedDocuments, sha256Hex, trustedDocumentsFrom } from '../../src/server/trusted/trusted-documents.js';
import { REPOSITORY_ROOT } from '../../scripts/generated-files.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

const MANIFEST = path.join(REPOSITORY_ROOT, 'src/__generated__/sdk/persisted-documents.json');
const trusted = loadTrustedDocuments(MANIFEST);
const UNKNOWN_ID = `sha256:${sha256Hex('query Unknown { viewer { user { id } } }')}`;
const INTROSPECTION = '{ __schema { queryType { name } } }';

let server: TestServer;
let closed: TestServer;
let tenant: TestTenant;
beforeAll(async () => {
  [server, closed, tenant] = await Promise.all([
    startTestServer({ production: true, introspection: true, trustedDocuments: trusted }),
    startTestServer({ production: true, introspection: false, trustedDocuments: trusted }),
    createTestTenant(),
  ]);
});
afterAll(async () => {
  await Promise.all([server.close(), closed.close()]);
});

const auth = () => ({ authorization: `Bearer ${tenant.admin.token}` });
const codes = (json: { errors?: { extensions?: { code?: string } }[] }) => json.errors?.map((error) => error.extensions?.code);

describe('GRAPHQL_TRUSTED_DOCUMENTS', () => {
  it('runs an SDK operation sent by its id alone (documentId)', async () => {
    const client = createClient({ url: server.url, token: tenant.admin.token, trustedDocuments: true });
    const viewer = await client.request(ViewerDocument);
    expect(viewer.errors).toBeUndefined();
    expect(viewer.data?.viewer.tenant.name).toBe(tenant.name);
    const dashboard = await client.request(DashboardDocument, { first: 5, messages: 2 });
    expect(dashboard.errors).toBeUndefined();
    expect(dashboard.data?.conversations.nodes).toEqual([]);
  });

  it('runs an operation named by extensions.persistedQuery.sha256Hash (Apollo Client, urql), bare or prefixed', async () => {
    const id = documentIdOf(ViewerDocument)!;
    for (const sha256Hash of [id, id.slice('sha256:'.length)]) {
      const response = await server.post({ extensions: { persistedQuery: { version: 1, sha256Hash } } }, auth());
      expect(response.status).toBe(200);
      expect(response.json.data.viewer.tenant.name).toBe(tenant.name);
    }
  });

  it('runs the exact text of a trusted operation, and refuses any other text with OPERATION_NOT_TRUSTED', async () => {
    const text = trusted.byId.get(documentIdOf(ViewerDocument)!)!;
    const exact = await server.post({ query: text }, auth());
    expect(exact.json.data.viewer.tenant.name).toBe(tenant.name);
    server.statements.length = 0;
    // The SDK's documents printed by graphql-js differ from the manifest's normalised text: not trusted.
    const untrusted = await createClient({ url: server.url, token: tenant.admin.token }).request(ConversationsDocument, { first: 1 });
    expect(untrusted.status).toBe(400);
    expect(untrusted.data).toBeUndefined();
    expect(codes(untrusted)).toEqual(['OPERATION_NOT_TRUSTED']);
    expect(server.statements).toEqual([]);
  });

  it('refuses an unknown id with PERSISTED_QUERY_NOT_FOUND, identically with and without a token', async () => {
    const bodies = [{ documentId: UNKNOWN_ID }, { extensions: { persistedQuery: { version: 1, sha256Hash: UNKNOWN_ID.slice(7) } } }];
    for (const body of bodies) {
      const withToken = await server.post(body, auth());
      const without = await server.post(body);
      expect(withToken.status).toBe(400);
      expect(codes(withToken.json)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
      expect({ status: without.status, json: without.json }).toEqual({ status: withToken.status, json: withToken.json });
    }
  });

  it('never registers: an unknown id sent with its text is refused, and so is a known id with another text', async () => {
    const query = 'query Unknown { viewer { user { id } } }';
    const register = { query, extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex(query) } } };
    expect(codes((await server.post(register, auth())).json)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    expect(codes((await server.post({ documentId: `sha256:${sha256Hex(query)}` }, auth())).json)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    const hijack = { documentId: documentIdOf(ViewerDocument), query };
    expect(codes((await server.post(hijack, auth())).json)).toEqual(['OPERATION_NOT_TRUSTED']);
  });

  it('lets introspection through only when introspection is on', async () => {
    const open = await server.post({ query: INTROSPECTION });
    expect(open.json).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    const shut = await closed.post({ query: INTROSPECTION });
    expect(shut.status).toBe(400);
    expect(codes(shut.json)).toEqual(['OPERATION_NOT_TRUSTED']);
    // The trusted operations still run there.
    const viewer = await createClient({ url: closed.url, token: tenant.admin.token, trustedDocuments: true }).request(ViewerDocument);
    expect(viewer.data?.viewer.tenant.name).toBe(tenant.name);
  });

  it('skips parsing a trusted operation: one above the token limit runs by id, while its text is refused', async () => {
    // Dashboard has far more than 20 tokens. The parser's token limit applies to every text Apollo parses, so the
    // trusted server can only answer if it took the document from the store filled at boot (no parse at all).
    const tiny = { maxTokens: 20 };
    const [limitedTrusted, limitedPlain] = await Promise.all([
      startTestServer({ production: true, introspection: false, trustedDocuments: trusted, limits: tiny }),
      startTestServer({ production: true, introspection: false, limits: tiny }),
    ]);
    try {
      const byId = await createClient({ url: limitedTrusted.url, token: tenant.admin.token, trustedDocuments: true }).request(DashboardDocument, {
        first: 2,
      });
      expect(byId.errors).toBeUndefined();
      expect(byId.data?.conversations.nodes).toEqual([]);
      const text = trusted.byId.get(documentIdOf(DashboardDocument)!)!;
      const byText = await limitedPlain.post({ query: text, variables: { first: 2 } }, auth());
      expect(byText.status).toBe(400);
      expect(byText.json.errors[0].message).toMatch(/more tha[nt] 20 tokens/);
    } finally {
      await Promise.all([limitedTrusted.close(), limitedPlain.close()]);
    }
  });

  it('still applies the cost limit to a trusted operation (it depends on the variables)', async () => {
    const client = createClient({ url: server.url, token: tenant.admin.token, trustedDocuments: true });
    const response = await client.request(DashboardDocument, { first: 100, messages: 100 });
    expect(response.status).toBe(400);
    expect(response.errors?.[0]?.message).toMatch(/Query cost \d+ exceeds the limit/);
  });
});

describe('trusted-documents manifest', () => {
  it('is refused when an id is not the hash of its text, or it is not an object', () => {
    const text = 'query A { viewer { user { id } } }';
    expect(() => trustedDocumentsFrom({ [`sha256:${sha256Hex(text)}`]: `${text} ` }, 'm.json')).toThrow(/is not the SHA-256 of its text/);
    expect(() => trustedDocumentsFrom({ abc: text }, 'm.json')).toThrow(/is not "sha256:" and 64 lowercase hex digits/);
    expect(() => trustedDocumentsFrom([], 'm.json')).toThrow(/expected a JSON object/);
    expect(() => trustedDocumentsFrom({}, 'm.json')).toThrow(/lists no operation/);
  });

  it('fails the boot when an operation does not validate against the schema (a stale manifest)', async () => {
    const text = 'query Stale { viewer { noSuchField } }';
    const stale = trustedDocumentsFrom({ [`sha256:${sha256Hex(text)}`]: text }, 'stale.json');
    await expect(startTestServer({ trustedDocuments: stale })).rejects.toThrow(/stale\.json: operations that do not validate.*noSuchField/);
  });

  it('is what the SDK documents embed: every generated document id is in it', () => {
    const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Record<string, string>;
    for (const document of [ViewerDocument, ConversationsDocument, DashboardDocument]) {
      expect(Object.keys(manifest)).toContain(documentIdOf(document));
    }
  });
});
