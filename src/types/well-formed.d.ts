// ES2024's well-formed string methods, which Node 20 has (V8 11.3): declared alone rather than
// taking the whole ES2024 library, part of which Node 20 lacks (Promise.withResolvers, Object.groupBy).
interface String {
  isWellFormed(): boolean
  toWellFormed(): string
}
