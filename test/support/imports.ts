import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'

/**
 * One import: the importing file and the imported one (both relative to the repository), or for a package or
 * `node:` module its name (`external`); and whether it imports only types, which are erased when the file runs.
 */
export interface Import {
  from: string
  to: string
  typeOnly: boolean
  external: boolean
}

/**
 * Every import of the files under `folders`: `import` and `export … from` declarations and `import()` calls,
 * read by TypeScript's own parser, so that comments, strings and multi-line imports cannot fool it.
 */
export function projectImports(root: string, folders: readonly string[]): Import[] {
  const imports: Import[] = []
  for (const file of folders.flatMap((folder) => typeScriptFiles(join(root, folder)))) {
    const from = relative(root, file)
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
    const add = (specifier: ts.Expression | undefined, typeOnly: boolean) => {
      if (!specifier || !ts.isStringLiteralLike(specifier)) return
      const external = !specifier.text.startsWith('.')
      imports.push({ from, to: external ? specifier.text : relative(root, resolve(dirname(file), specifier.text)), typeOnly, external })
    }
    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node)) add(node.moduleSpecifier, isTypeOnlyImport(node))
      else if (ts.isExportDeclaration(node)) add(node.moduleSpecifier, node.isTypeOnly)
      else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0], false)
      ts.forEachChild(node, visit)
    }
    visit(source)
  }
  return imports
}

/** `import type { A }`, or `import { type A, type B }`: erased when the file runs. */
function isTypeOnlyImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause
  if (!clause) return false
  if (clause.isTypeOnly) return true
  const bindings = clause.namedBindings
  return clause.name === undefined && bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((element) => element.isTypeOnly)
}

function typeScriptFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name)
    if (entry.isDirectory()) return entry.name === 'fixtures' ? [] : typeScriptFiles(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}
