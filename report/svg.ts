// A grouped bar chart as standalone SVG (no plotting dependency): one group of bars per shape, one colour
// per series, and horizontal reference lines (the copy roofline).

export interface BarChart {
  readonly title: string;
  readonly yLabel: string;
  readonly groups: readonly string[];
  readonly series: readonly { readonly name: string; readonly values: readonly (number | null)[] }[];
  readonly lines: readonly { readonly name: string; readonly value: number }[];
}

const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"];
const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function barChartSvg(chart: BarChart): string {
  const bar = 14;
  const groupWidth = chart.series.length * bar + 16;
  const left = 60;
  const top = 40;
  const plotHeight = 300;
  const bottom = 110;
  const width = left + chart.groups.length * groupWidth + 180;
  const height = top + plotHeight + bottom;
  const values = [...chart.series.flatMap((s) => s.values.filter((v): v is number => v !== null)), ...chart.lines.map((l) => l.value)];
  const yMax = Math.max(...values, 1e-9) * 1.1;
  const y = (v: number) => top + plotHeight - (v / yMax) * plotHeight;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${left}" y="20" font-size="14">${escape(chart.title)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = (yMax / 5) * i;
    out.push(`<line x1="${left}" x2="${left + chart.groups.length * groupWidth}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(v < 10 ? 1 : 0)}</text>`);
  }
  out.push(`<text transform="translate(14 ${top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escape(chart.yLabel)}</text>`);
  chart.groups.forEach((g, gi) => {
    const x0 = left + gi * groupWidth + 8;
    chart.series.forEach((s, si) => {
      const v = s.values[gi];
      if (v === null) return;
      out.push(`<rect x="${x0 + si * bar}" y="${y(v)}" width="${bar - 2}" height="${top + plotHeight - y(v)}" fill="${COLOURS[si % COLOURS.length]}"><title>${escape(`${s.name}, ${g}: ${v.toFixed(2)}`)}</title></rect>`);
    });
    const cx = x0 + (chart.series.length * bar) / 2;
    out.push(`<text transform="translate(${cx} ${top + plotHeight + 8}) rotate(55)" text-anchor="start">${escape(g)}</text>`);
  });
  chart.lines.forEach((l) => {
    out.push(`<line x1="${left}" x2="${left + chart.groups.length * groupWidth}" y1="${y(l.value)}" y2="${y(l.value)}" stroke="#d62728" stroke-dasharray="6 4"/>`);
  });
  const legendX = left + chart.groups.length * groupWidth + 16;
  chart.series.forEach((s, si) => {
    out.push(`<rect x="${legendX}" y="${top + si * 18}" width="12" height="12" fill="${COLOURS[si % COLOURS.length]}"/>`);
    out.push(`<text x="${legendX + 18}" y="${top + si * 18 + 10}">${escape(s.name)}</text>`);
  });
  chart.lines.forEach((l, li) => {
    const ly = top + (chart.series.length + li) * 18 + 6;
    out.push(`<line x1="${legendX}" x2="${legendX + 12}" y1="${ly}" y2="${ly}" stroke="#d62728" stroke-dasharray="4 2"/>`);
    out.push(`<text x="${legendX + 18}" y="${ly + 4}">${escape(`${l.name} (${l.value.toFixed(2)})`)}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
