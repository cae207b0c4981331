import { describe, expect, it } from 'vitest';
import { ConfigError, loadEnv } from '../../src/config/env.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadEnv(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('CORS_ORIGINS', () => {
  it('accepts origins as browsers send them, separated by commas', () => {
    expect(loadEnv({ CORS_ORIGINS: 'https://app.example.com, http://localhost:5173' }).CORS_ORIGINS).toEqual([
      'https://app.example.com',
      'http://localhost:5173',
    ]);
    expect(loadEnv({ CORS_ORIGINS: '*' }).CORS_ORIGINS).toEqual(['*']);
  });

  it.each([
    ['https://app.example.com/', /entry "https:\/\/app\.example\.com\/" ends with a slash.*use https:\/\/app\.example\.com$/],
    ['https://app.example.com/app', /entry "https:\/\/app\.example\.com\/app" has a path.*use https:\/\/app\.example\.com$/],
    ['https://app.example.com?x=1', /has a path, query or fragment.*use https:\/\/app\.example\.com$/],
    ['ftp://files.example.com', /entry "ftp:\/\/files\.example\.com" has the scheme ftp: but browsers send http: or https: origins/],
    ['app.example.com', /entry "app\.example\.com" is not an origin: expected scheme:\/\/host\[:port\]/],
    ['HTTPS://App.Example.com:443', /not in the form browsers send .*use https:\/\/app\.example\.com$/],
    ['https://user:pw@app.example.com', /has credentials.*use https:\/\/app\.example\.com$/],
    ['*, https://app.example.com', /entry "\*" allows every origin, so the other entries would mean nothing/],
  ])('refuses %s with the entry and the fix', (value, message) => {
    const found = problems({ CORS_ORIGINS: value });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^CORS_ORIGINS: /);
    expect(found[0]).toMatch(message);
  });

  it('reports every bad entry at once', () => {
    expect(problems({ CORS_ORIGINS: 'https://a.example/, https://b.example/x, https://ok.example' })).toHaveLength(2);
  });
});

describe('CORS_ALLOWED_HEADERS', () => {
  it('accepts header names and refuses anything else', () => {
    expect(loadEnv({ CORS_ALLOWED_HEADERS: 'x-tenant-hint, X-Feature' }).CORS_ALLOWED_HEADERS).toEqual(['x-tenant-hint', 'X-Feature']);
    expect(problems({ CORS_ALLOWED_HEADERS: 'x-ok, not a header' })[0]).toMatch(/^CORS_ALLOWED_HEADERS: must be comma-separated HTTP header names/);
  });
});

describe('GRAPHQL_EXPLORER', () => {
  it('is unset by default (the server then serves explorers in development only) and takes on/off', () => {
    expect(loadEnv({}).GRAPHQL_EXPLORER).toBeUndefined();
    expect(loadEnv({ GRAPHQL_EXPLORER: 'on' }).GRAPHQL_EXPLORER).toBe(true);
    expect(loadEnv({ GRAPHQL_EXPLORER: 'off' }).GRAPHQL_EXPLORER).toBe(false);
  });
});
