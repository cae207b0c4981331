// The entry point of the @tenantgraph/sdk package (packages/sdk) and of the project's own imports: the client
// and every typed document and type generated from src/sdk/operations/. Other modules of src/sdk/ are also
// importable one by one (`@tenantgraph/sdk/<module>`), see packages/sdk/package.json.
export * from './client.js';
export * from '../__generated__/sdk/graphql.js';
