/**
 * Bodies that their content-type parser has already validated against the route's schema (on a
 * worker thread, see `jobs/body-parser.ts`) arrive as a {@link ValidatedBody}; the route's
 * schema, marked with {@link VALIDATED_BY_PARSER}, still documents the body in OpenAPI and
 * still judges any body that did not come through that parser.
 */

/** Schema keyword (ignored by Ajv) of a body schema whose parser validates. */
export const VALIDATED_BY_PARSER = 'x-validated-by-parser'

/** Base class of bodies validated by their parser. */
export abstract class ValidatedBody {}
