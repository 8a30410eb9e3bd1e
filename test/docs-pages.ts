/** Pages generated from the code, shared by the generator script and the test that checks them. */
import { configurationTable } from '../src/cli/config-table.js'

export function configurationPage(): string {
  return `# Configuration

Every setting can be given as a flag of \`infergate serve\` or as an environment variable;
flags win over the environment, which wins over the defaults. Values are checked once at
start: an invalid one stops the process with one line naming the flag or variable, and exit
code 2. Commands that open the store (\`keys\`, \`audit\`) take \`--data-dir\` and
\`--database-url\` too. \`npx infergate serve --help\` prints the same list. Through npm, flags go
after \`--\`: \`npm start -- --port 18000\` (npm keeps the options before \`--\` for itself, and
infergate then says so in one line, exit code 2). A mistyped flag or command is one error line,
a suggestion (\`(Did you mean --name?)\`) and a pointer to \`--help\`, exit code 2.

This page is generated from \`src/config.ts\` by \`npm run docs:config\`.

${configurationTable()}

Durations take \`ms\`, \`s\`, \`m\`, \`h\`, \`d\`, \`w\` (\`90s\`, \`24h\`); sizes take \`kb\`, \`mb\`;
limits are \`LIMIT/WINDOW\` or \`NAME=LIMIT/WINDOW\` ([rate-limits.md](rate-limits.md)); models are
\`NAME=PATH[?max-batch=N&max-wait=MS&max-queue=N]\` ([bring-your-own-model.md](bring-your-own-model.md)) or
\`NAME=URL?protocol=seed|kserve-v2|hf-inference[&...]\` ([remote-models.md](remote-models.md)); LLM servers are
\`NAME=URL[?model=M&auth-header=H&auth-env=VAR&tokenizer=T]\` and token limits \`--llm-limit\`
([llm-gateway.md](llm-gateway.md)).

## Where the store is

The server and every CLI command find the SQLite store the same way: \`--data-dir\` if given,
else \`INFERGATE_DATA_DIR\`, else the nearest \`.infergate\` directory in the working directory or
one of its parents (as git finds \`.git\`), else \`.infergate\` in the working directory. So
\`cd docs && npx infergate keys create --name x\` writes to the store of the project the server
runs in, not to a new one beside it. Commands that change keys end their output with the store
they used (\`store: SQLite /srv/app/.infergate\`, or \`store: PostgreSQL postgres://app:***@db/infergate\`).
Commands that only read (\`keys list\`, \`keys show\`, \`audit verify\`, …) refuse a SQLite store
that does not exist, with one line and exit code 1, instead of making an empty one and listing
nothing; \`keys create\` makes it and says so on stderr. With \`--database-url\`, the URL is the store.

**One server per SQLite store.** Two servers on one data directory would each keep their own
in-memory limits, so every limit would silently double. The first server holds
\`server.lock\` in the data directory (its pid, host and address); a second one refuses to
start, naming the first, unless limits are shared through Redis (\`--redis-url\`), which is how
several instances run on one machine. The lock goes with a clean stop; one left by a server
that was killed (its process is gone) is taken over at the next start. CLI commands never take
it: they run beside the server.

## When the server does not start

Every failure to start prints one line on stderr naming the setting or path and what to do, and
the process exits by itself, with every thread and connection closed: exit code **2** for an
invalid setting (a flag, a variable, a model folder, a port in use), **1** for what is wrong
around it (the cases below). \`test/integration/startup.test.ts\` drives each case through the
real command line.

| case | the line (abridged) |
|---|---|
| data directory under a file, or a file | \`cannot open the SQLite store in /abs/dir: a part of the path is a file, not a directory: choose another --data-dir (ENOTDIR)\` |
| not writable, read-only, disk full | \`… permission denied: make the directory writable by this user, or choose another --data-dir (EACCES)\`, \`(EROFS)\`, \`(ENOSPC)\` |
| \`infergate.db\` is not a database | \`… infergate.db there is not an SQLite database: move it away, or choose another --data-dir (SQLITE_NOTADB)\` |
| PostgreSQL: database missing | \`cannot open the PostgreSQL store postgres://user@host/db: the database does not exist: create it (createdb NAME), or fix its name in --database-url (3D000)\` |
| PostgreSQL: nothing answers, unknown host, password refused | \`… nothing answers at that address … (ECONNREFUSED)\`, \`… the host name is unknown … (ENOTFOUND)\`, \`… the password was refused … (28P01)\`; the password is never printed (\`***\`) |
| Redis does not answer, \`--ratelimit-fail closed\` | \`Redis at redis://host:6379 does not answer: connection refused (ECONNREFUSED): start Redis or fix --redis-url …\` |
| Redis does not answer, \`--ratelimit-fail open\` (default) | starts, with one \`warning:\` line; \`/ready\` answers 200 \`{"status": "degraded", "checks": {"ratelimit": "degraded"}, "degraded": ["Redis does not answer: connection refused (ECONNREFUSED); …"]}\` until Redis answers |
| another server on the same SQLite store | \`another infergate server (pid 4242, listening on 127.0.0.1:8000) serves the SQLite store in /abs/dir: …\` |
| port in use | \`cannot listen on 127.0.0.1:8000: the port is in use (another infergate, or another program): stop it or choose another --port\` |
| model folder missing or broken | \`cannot load model "sst2": /path/config.json: file not found\` |

\`npm start\` runs the server with \`exec\`, so npm's own SIGTERM/SIGINT reaches it: stopping npm
stops the server (graceful shutdown, then exit), and the next \`npm start\` finds the port free.
`
}
