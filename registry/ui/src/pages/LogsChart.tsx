/** Actions per day, one stacked bar segment per log kind (GET …/aggregatelogs). */
// Deep imports: the package index pulls in every chart and its optional victory/echarts peers.
import { Chart } from '@patternfly/react-charts/dist/esm/victory/components/Chart/Chart';
import { ChartAxis } from '@patternfly/react-charts/dist/esm/victory/components/ChartAxis/ChartAxis';
import { ChartBar } from '@patternfly/react-charts/dist/esm/victory/components/ChartBar/ChartBar';
import { ChartLegend } from '@patternfly/react-charts/dist/esm/victory/components/ChartLegend/ChartLegend';
import { ChartStack } from '@patternfly/react-charts/dist/esm/victory/components/ChartStack/ChartStack';
import { ChartVoronoiContainer } from '@patternfly/react-charts/dist/esm/victory/components/ChartVoronoiContainer/ChartVoronoiContainer';
import { kindTitle } from './logDescriptions';

export interface Aggregate {
  kind: string;
  count: number;
  datetime: string;
}

export default function LogsChart({ data, start, end }: { data: Aggregate[]; start: Date; end: Date }) {
  const kinds = [...new Set(data.map((d) => d.kind))].sort();
  const days: string[] = [];
  for (let t = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate()); t <= end.getTime(); t += 86400_000) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  const dayOf = (d: string) => new Date(d).toISOString().slice(0, 10);
  const series = kinds.map((k) =>
    days.map((day) => ({
      x: day.slice(5),
      y: data.filter((d) => d.kind === k && dayOf(d.datetime) === day).reduce((a, d) => a + d.count, 0),
      name: kindTitle(k),
    })),
  );
  const every = Math.max(1, Math.ceil(days.length / 10));
  return (
    <div className="quay-chart" data-testid="usage-logs-chart" role="img" aria-label={`Actions per day from ${days[0]} to ${days[days.length - 1]}`}>
      <Chart
        ariaTitle="Usage logs: actions per day"
        containerComponent={
          <ChartVoronoiContainer
            labels={({ datum }: { datum: { name: string; y: number; x: string } }) => (datum.y ? `${datum.name} (${datum.x}): ${datum.y}` : '')}
            constrainToVisibleArea
          />
        }
        legendComponent={<ChartLegend data={kinds.map((k) => ({ name: kindTitle(k) }))} itemsPerRow={4} />}
        legendPosition="bottom"
        height={280}
        width={1000}
        padding={{ top: 20, left: 60, right: 20, bottom: 90 }}
        domainPadding={{ x: 10 }}
      >
        <ChartAxis tickValues={days.filter((_d, i) => i % every === 0).map((d) => d.slice(5))} />
        <ChartAxis dependentAxis showGrid tickFormat={(t: number) => (Number.isInteger(t) ? t : '')} />
        <ChartStack>
          {series.map((s, i) => (
            <ChartBar key={kinds[i]} data={s} />
          ))}
        </ChartStack>
      </Chart>
    </div>
  );
}
