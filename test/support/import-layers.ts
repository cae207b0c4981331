import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** One source file, by its path relative to the repository root (forward slashes) and its text. */
export interface SourceFile {
  readonly path: string;
  readonly source: string;
}

/** One import of one file: the specifier as written and, for a relative one, the repository path it names. */
export interface ImportEdge {
  readonly from: string;
  readonly specifier: string;
  readonly target: string;
}

interface LayerRule {
  /** Why the edge is forbidden, in the failure message. */
  readonly reason: string;
  readonly from: (file: string) => boolean;
  readonly to: (target: string) => boolean;
}

const under = (folder: string) => (file: string) => file === folder || file.startsWith(`${folder}/`);
const not = (test: (file: string) => boolean) => (file: string) => !test(file);
const both = (a: (file: string) => boolean, b: (file: string) => boolean) => (file: string) => a(file) && b(file);
/** bench/test/: the bench's own tests. They may use test/support and the bench; no other file may use both. */
const benchTests = under('bench/test');

/**
 * The layering of the repository (README › Architecture): tools (bench, scripts, tests) use the product, never
 * the reverse; inside the product, the server sits on top; audit uses tenancy, never the reverse.
 */
export const LAYER_RULES: readonly LayerRule[] = [
  ...['test', 'bench', 'scripts'].map((tool) => ({ reason: `the product does not import ${tool}/`, from: under('src'), to: under(tool) })),
  { reason: 'domain modules do not import the server', from: under('src/modules'), to: under('src/server') },
  { reason: 'the GraphQL layer does not import the server', from: under('src/graphql'), to: under('src/server') },
  { reason: 'observability does not import the server', from: under('src/observability'), to: under('src/server') },
  { reason: 'tenancy does not import audit (audit -> tenancy only, no cycle)', from: under('src/tenancy'), to: under('src/audit') },
  { reason: 'the bench does not import test/ (only its own tests, bench/test/, do)', from: both(under('bench'), not(benchTests)), to: under('test') },
  { reason: 'scripts do not import test/', from: under('scripts'), to: under('test') },
  { reason: 'tests do not import bench/ (tests of the bench live in bench/test/)', from: under('test'), to: under('bench') },
];

// `import … from '…'`, `export … from '…'`, `import '…'` and `import('…')`. Comments are removed first, so an
// example in a comment is not an import.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"\n]+)\1/g;
const COMMENTS = /\/\*[\s\S]*?\*\/|(^|[^:'"`\\])\/\/.*$/gm;

/** The relative imports of each file, resolved to repository paths; package imports are not layers. */
export function importEdges(files: readonly SourceFile[]): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of files) {
    const code = file.source.replace(COMMENTS, '$1');
    for (const match of code.matchAll(SPECIFIER)) {
      const specifier = match[2]!;
      if (!specifier.startsWith('.')) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file.path), specifier));
      edges.push({ from: file.path, specifier, target });
    }
  }
  return edges;
}

/** Every import against LAYER_RULES, as `file -> specifier (reason)`; empty when the layering holds. */
export function forbiddenImports(files: readonly SourceFile[], rules: readonly LayerRule[] = LAYER_RULES): string[] {
  const problems: string[] = [];
  for (const edge of importEdges(files)) {
    for (const rule of rules) {
      if (rule.from(edge.from) && rule.to(edge.target)) problems.push(`${edge.from} -> ${edge.specifier} (${rule.reason})`);
    }
  }
  return problems;
}

/** Every .ts file of the repository's code folders, as SourceFiles. */
export function repositorySources(root: string, folders: readonly string[] = ['src', 'test', 'bench', 'scripts']): SourceFile[] {
  const files: SourceFile[] = [];
  for (const folder of folders) {
    for (const entry of readdirSync(path.join(root, folder), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
      const absolute = path.join(entry.parentPath, entry.name);
      if (absolute.split(path.sep).includes('node_modules')) continue;
      files.push({ path: path.relative(root, absolute).split(path.sep).join('/'), source: readFileSync(absolute, 'utf8') });
    }
  }
  return files;
}
