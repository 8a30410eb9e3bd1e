/** A table's header row: column names, numeric ones right-aligned. */
export type Column = string | { label: string; numeric: true }

export function TableHead({ columns }: { columns: Column[] }) {
  return (
    <thead>
      <tr>
        {columns.map((column) =>
          typeof column === 'string' ? (
            <th scope="col" key={column}>
              {column}
            </th>
          ) : (
            <th scope="col" key={column.label} class="num">
              {column.label}
            </th>
          ),
        )}
      </tr>
    </thead>
  )
}
