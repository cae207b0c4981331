import { Kind, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';

/**
 * How many fields an operation selects with every fragment spread expanded (inline fragments and their type
 * conditions all counted, `@skip`/`@include` ignored): the size of the code graphql-jit generates for it, which
 * grows with this number, not with the document's length (a fragment spread at 15 aliases is compiled 15 times).
 * Linear in the document (each fragment is counted once); a spread of an unknown fragment counts nothing
 * (validation refuses those before anything executes).
 */
export function expandedFieldCount(document: DocumentNode, operation: OperationDefinitionNode): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const fragmentCounts = new Map<string, number>();
  const count = (selectionSet: SelectionSetNode | undefined): number => {
    let fields = 0;
    for (const selection of selectionSet?.selections ?? []) {
      if (selection.kind === Kind.FIELD) fields += 1 + count(selection.selectionSet);
      else if (selection.kind === Kind.INLINE_FRAGMENT) fields += count(selection.selectionSet);
      else {
        const name = selection.name.value;
        let fragmentFields = fragmentCounts.get(name);
        if (fragmentFields === undefined) {
          // Validation refuses cycles (NoFragmentCycles) before execution; the 0 guards this walk anyway.
          fragmentCounts.set(name, 0);
          fragmentFields = count(fragments.get(name)?.selectionSet);
          fragmentCounts.set(name, fragmentFields);
        }
        fields += fragmentFields;
      }
    }
    return fields;
  };
  return count(operation.selectionSet);
}
