/**
 * Negation scope marking (Das & Chen 2001, Pang et al. 2002), applied to the tokens before they
 * are featurised: every token between a negation cue and the end of its clause becomes
 * `NOT_token`, so "not bad" reads `not NOT_bad`. Such a token has a word row of its own and, when
 * its word has a pretrained vector, a *negated* pretrained row (the vector through a second
 * learned projection, see `features.ts`): what training learns about "not good", "n't funny" or
 * "never dull" carries over to negated words it never saw negated ("not bad", "hardly enjoyable").
 *
 * The rule, stored in the manifest (`features.negation`): a cue flips the state (a second cue in
 * the same clause undoes the first: "not without charm"); a clause end (punctuation, or a
 * contrast word such as "but") resets it. Cues and clause ends themselves are never marked. An
 * optional `window` ends a scope after that many marked tokens (a variant in docs/model.md; the
 * shipped model has none).
 */

/** How negation scopes are found; absent in a manifest = no marking (models trained before it). */
export interface NegationSpec {
  /** Prefix of a token inside a negation scope (upper case: tokens are lower case, so it cannot clash). */
  marker: string
  /** Tokens that open (or, inside a scope, close) a negation scope. */
  cues: string[]
  /** Tokens that end a clause, closing any scope. */
  clauseEnds: string[]
  /** At most this many tokens are marked after a cue (absent: up to the clause end). */
  window?: number
}

/** The rule the built-in model is trained with. */
export const DEFAULT_NEGATION: NegationSpec = {
  marker: 'NOT_',
  cues: ['not', "n't", 'no', 'never', 'nothing', 'nobody', 'none', 'nor', 'neither', 'nowhere', 'cannot', 'hardly', 'barely', 'scarcely', 'without'],
  clauseEnds: ['.', ',', ';', ':', '!', '?', '--', '...', '(', ')', 'but', 'however', 'although', 'though', 'yet', 'whereas'],
}

/** A compiled {@link NegationSpec}: marks token lists. */
export class NegationMarker {
  private readonly cues: ReadonlySet<string>
  private readonly clauseEnds: ReadonlySet<string>
  readonly marker: string
  private readonly window: number

  constructor(spec: NegationSpec) {
    this.cues = new Set(spec.cues)
    this.clauseEnds = new Set(spec.clauseEnds)
    this.marker = spec.marker
    this.window = spec.window ?? Infinity
  }

  /** `tokens` with every token inside a negation scope prefixed by the marker (a new array). */
  mark(tokens: readonly string[]): string[] {
    let negated = false
    let marked = 0
    return tokens.map((token) => {
      if (this.clauseEnds.has(token)) {
        negated = false
        return token
      }
      if (this.cues.has(token)) {
        negated = !negated
        marked = 0
        return token
      }
      if (!negated) return token
      marked += 1
      if (marked >= this.window) negated = false
      return this.marker + token
    })
  }

  /** The word of a marked token, or undefined for an unmarked one. */
  negatedWord(token: string): string | undefined {
    return token.startsWith(this.marker) ? token.slice(this.marker.length) : undefined
  }
}
