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
\`NAME=URL?protocol=seed|kserve-v2|hf-inference[&...]\` ([remote-models.md](remote-models.md)).
`
}
