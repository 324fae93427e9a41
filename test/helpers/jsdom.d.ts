// jsdom ships no types, and @types/jsdom would pull the DOM library into the whole project's
// type check (where fetch and Buffer are Node's): what test/helpers/mermaid.ts uses, no more.
declare module 'jsdom' {
  export class JSDOM {
    constructor(html?: string, options?: {pretendToBeVisual?: boolean; url?: string})
    readonly window: any
  }
}
