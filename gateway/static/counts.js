// A camera's counts for a day, in the recordings dialog: each line's crossings in and out and each
// zone's entries per hour (GET /api/counts), drawn by uPlot (static/vendor, a global script), and
// the day's totals and each zone's occupancy now as text. Hidden for a camera without lines or zones.
const HOUR_S = 3600;

let chart = null;

export async function showCounts(section, cameraId, dayStart) {
  const summary = section.querySelector(".counts-summary");
  const place = section.querySelector(".counts-chart");
  const reply = await fetch(`/api/counts?camera_id=${cameraId}&since=${dayStart}&until=${dayStart + 24 * HOUR_S}&bucket=1h`);
  const body = await reply.json().catch(() => ({}));
  if (chart) { chart.destroy(); chart = null; }
  if (!reply.ok || (!body.lines.length && !body.zones.length)) { section.hidden = true; return; }
  section.hidden = false;
  const texts = body.lines.map((line) => `${line.name}: ${line.in} in, ${line.out} out`);
  for (const zone of body.zones) {
    const now = zone.occupancy == null ? "" : `, ${zone.occupancy} in it now`;
    texts.push(`${zone.name}: ${zone.entered} entered${now}`);
  }
  summary.textContent = texts.join(" · ");
  const hours = body.lines[0]?.buckets.map((b) => b.start) ?? body.zones[0].buckets.map((b) => b.start);
  const data = [hours];
  const series = [{}];
  const colours = ["#2ea043", "#d29922", "#388bfd", "#a371f7", "#db61a2", "#3fb950"];
  for (const line of body.lines) {
    for (const way of ["in", "out"]) {
      data.push(line.buckets.map((b) => b[way]));
      series.push({ label: `${line.name} ${way}`, stroke: colours[(series.length - 1) % colours.length], width: 2 });
    }
  }
  for (const zone of body.zones) {
    data.push(zone.buckets.map((b) => b.entered));
    series.push({ label: `${zone.name} entered`, stroke: colours[(series.length - 1) % colours.length], width: 2, dash: [6, 4] });
  }
  const width = Math.max(300, place.clientWidth || section.clientWidth || 600);
  chart = new window.uPlot({ width, height: 200, series, axes: [{}, { label: "per hour" }], scales: { x: { time: true } } }, data, place);
}
