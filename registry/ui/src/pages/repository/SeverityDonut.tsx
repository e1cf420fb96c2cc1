/**
 * A donut of counts per severity (the Security Report's vulnerabilities, the Packages tab's packages by their
 * highest severity). Loaded lazily: the chart library stays out of the first screen's bundle.
 */
// Deep import: the package index pulls in every chart and its optional victory/echarts peers.
import { ChartDonut } from '@patternfly/react-charts/dist/esm/victory/components/ChartDonut/ChartDonut';

/** Severity colours of PatternFly's status palette, most severe first (the order of SEVERITIES). */
const FILL: Record<string, string> = {
  Critical: '#a30000',
  High: '#ec7a08',
  Medium: '#f0ab00',
  Low: '#2b9af3',
  Negligible: '#6a6e73',
  Unknown: '#b8bbbe',
  None: '#3e8635',
};

export default function SeverityDonut({ counts, title, subTitle, label }: { counts: [string, number][]; title: string; subTitle: string; label: string }) {
  const shown = counts.filter(([, n]) => n > 0);
  return (
    <div style={{ width: 380, height: 200 }}>
      <ChartDonut
        ariaTitle={label}
        ariaDesc={shown.map(([s, n]) => `${n} ${s}`).join(', ')}
        constrainToVisibleArea
        data={shown.map(([s, n]) => ({ x: s, y: n }))}
        colorScale={shown.map(([s]) => FILL[s] ?? FILL.Unknown)}
        labels={({ datum }: { datum: { x: string; y: number } }) => `${datum.x}: ${datum.y}`}
        legendData={shown.map(([s, n]) => ({ name: `${n} ${s}` }))}
        legendOrientation="vertical"
        legendPosition="right"
        padding={{ top: 20, bottom: 20, left: 20, right: 160 }}
        title={title}
        subTitle={subTitle}
        width={380}
        height={200}
      />
    </div>
  );
}
