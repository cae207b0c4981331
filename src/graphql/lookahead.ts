import type { FieldNode, FragmentDefinitionNode, GraphQLResolveInfo, SelectionSetNode } from 'graphql';

/**
 * Whether the query selects `path` below the field being resolved (e.g. `['nodes', 'author']` under
 * `messages`), through inline fragments and named fragment spreads. Lets a parent fetch what its children will
 * ask for in its own statement (and prime their loaders) instead of leaving it to one more statement.
 *
 * Conservative by design: `@skip`/`@include` and type conditions are ignored, so a field that might be selected
 * counts as selected. Fetching it anyway costs a join, never a wrong answer.
 */
export function selectsPath(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>, path: readonly string[]): boolean {
  return info.fieldNodes.some((field) => selectionHas(field.selectionSet, path, info.fragments, new Set()));
}

function selectionHas(
  selectionSet: SelectionSetNode | undefined,
  path: readonly string[],
  fragments: Record<string, FragmentDefinitionNode>,
  visited: Set<string>,
): boolean {
  if (!selectionSet || !path.length) return false;
  const [head, ...rest] = path;
  for (const selection of selectionSet.selections) {
    if (selection.kind === 'Field') {
      if ((selection as FieldNode).name.value !== head) continue;
      if (!rest.length || selectionHas(selection.selectionSet, rest, fragments, visited)) return true;
    } else if (selection.kind === 'InlineFragment') {
      if (selectionHas(selection.selectionSet, path, fragments, visited)) return true;
    } else {
      // Validation forbids fragment cycles; the set only keeps a spread met twice for the same path from being walked twice.
      const name = selection.name.value;
      const key = `${name}|${path.join('.')}`;
      if (visited.has(key)) continue;
      visited.add(key);
      if (selectionHas(fragments[name]?.selectionSet, path, fragments, visited)) return true;
    }
  }
  return false;
}

/**
 * The field nodes the query selects at `path` below the field being resolved (the last name is the field's), in
 * document order, through inline fragments and named fragment spreads, grouped by response key (alias or name)
 * as graphql-js groups them for the child's resolver: each group is one resolver call's `fieldNodes` per parent
 * object. The same conservative reading as {@link selectsPath}: `@skip`/`@include` and type conditions are
 * ignored, so a parent may prepare for a child that does not run, never miss one that does.
 */
export function fieldNodesAt(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>, path: readonly string[]): FieldNode[][] {
  const found: FieldNode[] = [];
  for (const field of info.fieldNodes) collectAt(field.selectionSet, path, info.fragments, new Set(), found);
  const groups = new Map<string, FieldNode[]>();
  for (const node of found) {
    const key = node.alias?.value ?? node.name.value;
    const group = groups.get(key);
    if (group) group.push(node);
    else groups.set(key, [node]);
  }
  return [...groups.values()];
}

function collectAt(
  selectionSet: SelectionSetNode | undefined,
  path: readonly string[],
  fragments: Record<string, FragmentDefinitionNode>,
  visited: Set<string>,
  found: FieldNode[],
): void {
  if (!selectionSet || !path.length) return;
  const [head, ...rest] = path;
  for (const selection of selectionSet.selections) {
    if (selection.kind === 'Field') {
      if (selection.name.value !== head) continue;
      if (rest.length) collectAt(selection.selectionSet, rest, fragments, visited, found);
      else found.push(selection);
    } else if (selection.kind === 'InlineFragment') {
      collectAt(selection.selectionSet, path, fragments, visited, found);
    } else {
      const name = selection.name.value;
      const key = `${name}|${path.join('.')}`;
      if (visited.has(key)) continue;
      visited.add(key);
      collectAt(fragments[name]?.selectionSet, path, fragments, visited, found);
    }
  }
}
