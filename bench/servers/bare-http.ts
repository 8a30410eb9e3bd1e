/**
 * Bench target (a): a bare node:http server answering every request with a constant JSON
 * body. It does no work at all: the ceiling for any server on this machine.
 */
import http from 'node:http'

const body = JSON.stringify({ text: 'a wonderful film', sentiment: 'positive', confidence: 0.98, status: 'success' })
const server = http.createServer((request, response) => {
  request.resume()
  request.on('end', () => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    response.end(body)
  })
})
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address()
  console.log(`listening on ${typeof address === 'object' && address ? address.port : ''}`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
