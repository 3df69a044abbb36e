/**
 * A config's text cut into its top-level `apis` items and the rest, so that a reload can find the APIs whose text
 * did not change and skip parsing and validating them again.
 *
 * Only the shape every generated and hand-written config has is cut: a block sequence under a column-0 `apis:`,
 * each item starting with `-` at one indentation and every other line of it indented further (or blank, or a
 * comment). Anything else (flow style, JSON, several documents, directives, CRLF line ends) gives undefined, and
 * the caller reads the whole document instead. Each item is then parsed on its own, and must give exactly one
 * item: a cut in the wrong place gives a syntax error or a different count, never a different value quietly.
 */
export interface ApiItems {
  /** The document without the `apis` block. */
  head: string
  /** The text of each item, in order, each a YAML document of a one-item sequence. */
  items: string[]
}

const APIS_KEY = /^apis:[ \t]*(?:#.*)?$/m
const DOCUMENT_MARKS = /^(?:---|\.\.\.)(?:[ \t]|$)|^%/m

/** The first line of the block that is neither blank nor a comment: its indentation is the items'. */
const FIRST_CONTENT = /^( *)([^ \n#])/gm

/**
 * The block is found with regular expressions rather than a loop over its lines: a reload runs this once, before
 * any loop over thousands of lines would have been compiled, and expressions run compiled from the start.
 */
export function splitApiItems(text: string): ApiItems | undefined {
  // CRLF files are rare enough for the full parser.
  if (text.includes('\r')) return undefined
  const key = APIS_KEY.exec(text)
  if (!key) return undefined
  const blockStart = key.index
  const bodyStart = blockStart + key[0].length + 1
  FIRST_CONTENT.lastIndex = bodyStart
  const first = FIRST_CONTENT.exec(text)
  if (!first) return undefined
  const indent = first[1]!.length
  const dash = first.index + indent
  const after = text.charCodeAt(dash + 1)
  if (first[2] !== '-' || !(after === SPACE || after === NEWLINE || Number.isNaN(after))) return undefined
  const shape = shapes(indent)
  // The block ends at the first line that is not blank, a comment, an item or indented under one.
  shape.end.lastIndex = first.index
  const end = shape.end.exec(text)
  const blockEnd = end ? end.index + 1 : text.length
  // What ends it must be a column-0 key; anything else at or left of the items is not this shape.
  if (end && [SPACE, DASH, TAB].includes(text.charCodeAt(blockEnd))) return undefined
  const block = text.slice(first.index - 1, blockEnd)
  // YAML forbids tabs in indentation: left to the full parser to report.
  if (block.includes('\t') && TAB_INDENT.test(block)) return undefined
  // Each item starts after a line end; the block's text starts with the one before the first item.
  const starts: number[] = []
  shape.item.lastIndex = 0
  for (let match; (match = shape.item.exec(block)); ) starts.push(match.index + 1)
  const items = starts.map((start, index) => block.slice(start, index + 1 < starts.length ? starts[index + 1]! - 1 : block.endsWith('\n') ? block.length - 1 : block.length))
  // Inside the block, a column-0 line ended it or was refused above: marks and a second `apis` can only be outside.
  const head = text.slice(0, blockStart) + text.slice(blockEnd)
  if (DOCUMENT_MARKS.test(head) || APIS_KEY.test(text.slice(blockEnd))) return undefined
  return { head, items }
}

const SPACE = 32
const TAB = 9
const NEWLINE = 10
const DASH = 45
const TAB_INDENT = /\n *\t/

/** The expressions for items at one indentation (a config uses one; kept for the next reload). */
const byIndent = new Map<number, { item: RegExp; end: RegExp }>()
function shapes(indent: number): { item: RegExp; end: RegExp } {
  let shape = byIndent.get(indent)
  if (!shape) {
    shape = {
      // A line end first: the engine then skips ahead to line ends instead of trying every position.
      item: new RegExp(`\\n {${indent}}-(?: |\\n|$)`, 'g'),
      end: new RegExp(`\\n(?! {${indent + 1}}| {${indent}}-(?: |\\n|$)| *(?:#|\\n|$))`, 'g'),
    }
    byIndent.set(indent, shape)
  }
  return shape
}
