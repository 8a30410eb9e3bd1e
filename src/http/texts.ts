/**
 * Checks on the texts clients send for prediction, shared by the predict and jobs routes.
 */
import { AppError, ErrorCode, errors } from '../errors.js'

// Whitespace, control and format characters (zero-width space, BOM, ...) carry no content.
const BLANK = /^[\s\p{Cc}\p{Cf}\p{Cs}]*$/u

/** True when the text has nothing to classify. */
export function isBlank(text: string): boolean {
  return BLANK.test(text)
}

/** The one text of a single request, from the query or the body; 422 / 400 when absent or blank. */
export function pickText(fromQuery: string | undefined, fromBody: string | undefined): string {
  if (fromQuery !== undefined && fromBody !== undefined) {
    throw errors.validation([{ loc: ['body', 'text'], msg: 'Give text in the query string or in the body, not both', type: 'value_error' }])
  }
  const text = fromQuery ?? fromBody
  if (text === undefined) throw errors.validation([{ loc: ['query', 'text'], msg: 'Field required', type: 'missing' }])
  if (isBlank(text)) throw new AppError(ErrorCode.EmptyText, 'Empty text provided')
  return text
}

/** The texts of a batch; 422 naming the first blank one. */
export function checkTexts(texts: string[]): string[] {
  const blank = texts.findIndex(isBlank)
  if (blank >= 0) throw errors.validation([{ loc: ['body', 'texts', blank], msg: 'Empty text provided', type: 'value_error' }])
  return texts
}
