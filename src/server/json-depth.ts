/**
 * Bounds the nesting of JSON a client sends. V8's JSON.parse reads 100,000 nested arrays without trouble, but
 * everything after it recurses (graphql-js' variable coercion, JSON.stringify, Apollo's own checks): such a
 * body answered HTTP 500 "Maximum call stack size exceeded". GraphQL variables of this schema nest a few
 * levels; 64 leaves room for any input type while staying far from any stack limit.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether `value` nests arrays and objects more than `maxDepth` levels deep (a scalar is depth 0, `[]` and
 * `{}` depth 1). Walks with an explicit stack, never recursion, and stops at the first level too deep, so the
 * check itself cannot overflow and costs at most one visit per value.
 */
export function exceedsJsonDepth(value: unknown, maxDepth: number = MAX_JSON_DEPTH): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > maxDepth) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (child !== null && typeof child === 'object') pending.push([child, depth + 1]);
    }
  }
  return false;
}

/** The 400 message for a body or parameter nested too deep: the limit, and what to do. */
export function tooDeepMessage(where: string, maxDepth: number = MAX_JSON_DEPTH): string {
  return `${where} nests arrays or objects more than ${maxDepth} levels deep, the limit; send flatter variables.`;
}
