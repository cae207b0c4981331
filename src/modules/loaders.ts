/**
 * Every DataLoader of one request, by name: each module adds its own from its loaders.ts, next to the factory,
 *
 *   declare module '../loaders.js' {
 *     interface Loaders extends ReturnType<typeof createLabelLoaders> {}
 *   }
 *
 * and the registry (src/modules/index.ts) builds them per request from the registered modules' factories.
 * Declared by the modules rather than inferred from the registry: the registry's type includes the resolvers,
 * whose types include the loaders, so inferring one from the other would go in a circle.
 */
export interface Loaders {}
