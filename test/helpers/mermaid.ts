/**
 * Mermaid, the real library, run in Node the way GitHub runs it in a page: `parse` for the
 * grammar, and `render` for everything after it (a gantt's dates are only read when it is drawn,
 * so a task name cut short by a stray ":" passes `parse` and fails `render`). jsdom stands in for
 * the browser; it lays nothing out, so text is measured by a stand-in of 7px a character.
 *
 * @mermaid-js/parser alone is not enough: it holds the newer Langium grammars (pie, gitGraph,
 * packet, …), not gantt or xychart, which are still jison grammars inside `mermaid`.
 */
import {JSDOM} from 'jsdom'

type Mermaid = typeof import('mermaid').default

/** The little of an SVG document the tests look into. */
export interface SvgNode {
  textContent: string | null
  getAttribute(name: string): string | null
}
export interface SvgDocument {
  querySelectorAll(selector: string): ArrayLike<SvgNode>
}

let loaded: Promise<{mermaid: Mermaid; window: JSDOM['window']}> | undefined

function load(): Promise<{mermaid: Mermaid; window: JSDOM['window']}> {
  loaded ??= (async () => {
    // A real origin: Mermaid reads localStorage (its debug settings), which an about:blank page refuses.
    const dom = new JSDOM('<!doctype html><html><body></body></html>', {pretendToBeVisual: true, url: 'http://localhost/'})
    const g = globalThis as Record<string, unknown>
    // Mermaid (and DOMPurify inside it) look for a browser when they are first imported.
    g.window = dom.window
    g.document = dom.window.document
    for (const k of ['navigator', 'Element', 'HTMLElement', 'SVGElement', 'DOMParser', 'XMLSerializer', 'Node', 'CSSStyleSheet']) g[k] ??= dom.window[k]
    const measure = (el: {textContent: string | null}) => (el.textContent ?? '').length * 7
    Object.assign(dom.window.SVGElement.prototype, {
      getBBox(this: {textContent: string | null}) {
        return {x: 0, y: 0, width: measure(this), height: 14}
      },
      getComputedTextLength(this: {textContent: string | null}) {
        return measure(this)
      },
    })
    const {default: mermaid} = await import('mermaid')
    mermaid.initialize({startOnLoad: false})
    return {mermaid, window: dom.window}
  })()
  return loaded
}

/** The bodies of the ```mermaid fences in a Markdown text. */
export function mermaidBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```mermaid\n([\s\S]*?)\n```$/gm)].map((m) => m[1]!)
}

/** Mermaid's grammar check; resolves to the diagram type, throws the parser's error. */
export async function parseMermaid(text: string): Promise<string> {
  const {mermaid} = await load()
  const r = await mermaid.parse(text)
  if (!r) throw new Error('mermaid.parse returned nothing')
  return r.diagramType
}

let n = 0

/** Draw the diagram as GitHub would; resolves to the SVG as a DOM to look into, throws what Mermaid throws. */
export async function renderMermaid(text: string): Promise<SvgDocument> {
  const {mermaid, window} = await load()
  const {svg} = await mermaid.render(`m${++n}`, text)
  return new window.DOMParser().parseFromString(svg, 'image/svg+xml') as SvgDocument
}
