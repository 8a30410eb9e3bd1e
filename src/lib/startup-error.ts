/**
 * A failure to start that the operator can fix: a path, a permission, a server that does not
 * answer, another process on the same store. The CLI prints its message as one line, naming
 * the setting or path and what to do, and exits with code 1 (invalid settings exit with 2).
 */
export class StartupError extends Error {
  override name = 'StartupError'
}
