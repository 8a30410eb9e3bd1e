/**
 * A uPlot line chart of requests per bucket by outcome group, with the same data as a table
 * (for screen readers, and so tests can read what the chart draws).
 */
import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import type { GroupedSeries } from '../outcomes'
import { OUTCOME_GROUPS } from '../outcomes'

interface Props {
  title: string
  data: GroupedSeries
  testId: string
}

function chartWidth(element: HTMLElement): number {
  return Math.max(260, Math.floor(element.clientWidth))
}

export function OutcomeChart({ title, data, testId }: Props) {
  const holder = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const element = holder.current
    if (!element) return
    const options: uPlot.Options = {
      width: chartWidth(element),
      height: 240,
      series: [{}, ...OUTCOME_GROUPS.map((group) => ({ label: group.label, stroke: group.color, width: 2, points: { show: false } }))],
      axes: [{}, { label: 'requests / bucket', size: 50 }],
      scales: { x: { time: true } },
      legend: { show: true },
    }
    const plot = new uPlot(options, [data.times, ...data.counts], element)
    const resize = () => plot.setSize({ width: chartWidth(element), height: 240 })
    window.addEventListener('resize', resize)
    return () => {
      window.removeEventListener('resize', resize)
      plot.destroy()
    }
  }, [data])
  return (
    <figure class="chart" data-testid={testId}>
      <figcaption>{title}</figcaption>
      <div ref={holder} class="chart-canvas" role="img" aria-label={`${title}: line chart by outcome`} />
      <div class="table-wrap">
        <table class="chart-totals">
          <caption>Totals in the range</caption>
          <thead>
            <tr>
              {OUTCOME_GROUPS.map((group) => (
                <th scope="col" key={group.label}>
                  {group.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            <tr>
              {OUTCOME_GROUPS.map((group, index) => (
                <td key={group.label} data-outcome={group.label}>
                  {data.totals[index] ?? 0}
                </td>
              ))}
            </tr>
          </tbody>
        </table>
      </div>
    </figure>
  )
}
