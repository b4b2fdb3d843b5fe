// Settings -> Cameras -> Zones: draw the analyzer's motion zones and masks as polygons on the
// camera's latest picture, and its named zones and directed lines (docs/rules.md). Points are
// fractions of the frame (0..1), as the camera file keeps them, so a change of resolution keeps
// them in place. Saving replaces the camera's `analysis.motion_zones`, `motion_masks`, `zones` and
// `lines` (its other analysis settings are sent back unchanged); the analyzer applies them within
// a second. With zones set, person and face events also count only when the object's foot point
// is inside one. A line's arrow points the way that counts as `in`: the right-hand side of the line
// walked from its first point to its last.
import { api, button } from "/static/account.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const editor = $("zone-editor");
const picture = editor.querySelector("img");
const drawing = editor.querySelector("svg");
const message = $("zone-message");
let camera = null;  // the camera's stored config while editing
let shapes = { motion_zones: [], motion_masks: [], zones: [], lines: [] };
let corners = [];  // the polygon being drawn

const kind = () => editor.querySelector("input[name=zone-kind]:checked").value;
const rounded = (value) => Math.round(Math.min(1, Math.max(0, value)) * 10000) / 10000;

function polygon(points, className) {
  const shape = document.createElementNS(SVG, corners === points ? "polyline" : "polygon");
  shape.setAttribute("points", points.map(([x, y]) => `${x},${y}`).join(" "));
  shape.setAttribute("class", className);
  shape.setAttribute("vector-effect", "non-scaling-stroke");
  return shape;
}

function svg(tag, attributes) {
  const made = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
  return made;
}

function label(text, [x, y]) {
  const made = svg("text", { x, y, class: "label" });
  made.textContent = text;
  return made;
}

// A line, and an arrow from the middle of its first segment to its right-hand side (the picture's
// aspect ratio taken into account, so the arrow looks square to the line).
function line(points, name) {
  const aspect = (picture.naturalWidth || 16) / (picture.naturalHeight || 9);
  const [[x1, y1], [x2, y2]] = points;
  const [dx, dy] = [(x2 - x1) * aspect, y2 - y1];
  const length = Math.hypot(dx, dy) || 1;
  const [nx, ny] = [(-dy / length) * 0.06 / aspect, (dx / length) * 0.06];
  const [mx, my] = [(x1 + x2) / 2, (y1 + y2) / 2];
  const head = [mx + nx, my + ny];
  const back = [[head[0] - nx * 0.4 + ny / aspect * 0.3, head[1] - ny * 0.4 - nx * aspect * 0.3],
                [head[0] - nx * 0.4 - ny / aspect * 0.3, head[1] - ny * 0.4 + nx * aspect * 0.3]];
  const arrow = svg("polyline", { class: "arrow", "vector-effect": "non-scaling-stroke",
    points: [[mx, my], head, back[0], head, back[1]].map((p) => p.join(",")).join(" ") });
  const drawn = svg("polyline", { class: "line", "vector-effect": "non-scaling-stroke", points: points.map((p) => p.join(",")).join(" ") });
  return name ? [drawn, arrow, label(`${name} (in →)`, head)] : [drawn, arrow];
}

function draw() {
  const drawn = [];
  for (const points of shapes.motion_zones) drawn.push(polygon(points, "zone"));
  for (const points of shapes.motion_masks) drawn.push(polygon(points, "mask"));
  for (const zone of shapes.zones) drawn.push(polygon(zone.points, "named"), label(zone.name, zone.points[0]));
  for (const counted of shapes.lines) drawn.push(...line(counted.points, counted.name));
  if (corners.length > 1 && kind() === "lines") drawn.push(...line(corners, ""));
  else if (corners.length) drawn.push(polygon(corners, `drawing ${kind() === "motion_masks" ? "mask" : "zone"}`));
  drawing.replaceChildren(...drawn);
  const items = [];
  for (const [key, title] of [["motion_zones", "Zone"], ["motion_masks", "Mask"], ["zones", "Named zone"], ["lines", "Line"]]) {
    shapes[key].forEach((shape, index) => {
      const item = document.createElement("li");
      const points = shape.points ?? shape;
      const extra = shape.loiter_s ? `, loitering after ${shape.loiter_s} s` : "";
      item.textContent = `${title} ${shape.name ?? index + 1}: ${points.length} ${key === "lines" ? "points" : "corners"}${extra} `;
      item.append(button("Remove", () => { shapes[key].splice(index, 1); draw(); }));
      items.push(item);
    });
  }
  $("zone-list").replaceChildren(...items);
}

// A named zone or a line: its name (and a zone's loitering time), asked for as it is finished.
function named(points) {
  const what = kind() === "lines" ? "line" : "zone";
  const name = (prompt(`Name of the ${what} (letters, digits, spaces, - and _):`) ?? "").trim();
  if (!name) return null;
  if (what === "line") return { name, points };
  const loiter = (prompt("Seconds in the zone before it is loitering (empty: never):") ?? "").trim();
  return loiter ? { name, points, loiter_s: Number(loiter) } : { name, points };
}

drawing.addEventListener("click", (event) => {
  const frame = drawing.getBoundingClientRect();
  corners.push([rounded((event.clientX - frame.left) / frame.width), rounded((event.clientY - frame.top) / frame.height)]);
  draw();
});

function finish() {
  const least = kind() === "lines" ? 2 : 3;
  if (corners.length < least) { message.textContent = `A ${kind() === "lines" ? "line" : "shape"} needs at least ${least} points: click on the picture.`; return; }
  if (kind() === "zones" || kind() === "lines") {
    const shape = named(corners);
    if (!shape) { message.textContent = "It needs a name."; return; }
    shapes[kind()].push(shape);
  } else {
    shapes[kind()].push(corners);
  }
  corners = [];
  message.textContent = "";
  draw();
}

$("zone-finish").onclick = finish;
$("zone-undo").onclick = () => { corners.pop(); draw(); };
$("zone-clear").onclick = () => { shapes = { motion_zones: [], motion_masks: [], zones: [], lines: [] }; corners = []; draw(); };
$("zone-cancel").onclick = () => { editor.hidden = true; camera = null; };
$("zone-save").onclick = async () => {
  if (corners.length) finish();
  if (corners.length) return;  // too few corners: finish() said so
  try {
    const analysis = { ...camera.analysis, motion_zones: shapes.motion_zones, motion_masks: shapes.motion_masks,
                       zones: shapes.zones, lines: shapes.lines };
    camera = await api(`/api/cameras/${camera.id}`, { method: "PATCH", body: JSON.stringify({ analysis }) });
    message.textContent = `Saved: camera ${camera.id} has ${shapes.motion_zones.length} zone(s), ${shapes.motion_masks.length} mask(s), ${shapes.zones.length} named zone(s) and ${shapes.lines.length} line(s).`;
  } catch (error) { message.textContent = String(error.message); }
};
for (const choice of editor.querySelectorAll("input[name=zone-kind]")) choice.onchange = draw;

picture.onerror = () => {
  picture.hidden = true;
  message.textContent = "No picture from this camera now (is it offline?): the shapes can still be drawn.";
};
picture.onload = () => { picture.hidden = false; };

export function editZones(config) {
  camera = config;
  const analysis = config.analysis ?? {};
  shapes = { motion_zones: structuredClone(analysis.motion_zones ?? []), motion_masks: structuredClone(analysis.motion_masks ?? []),
             zones: structuredClone(analysis.zones ?? []), lines: structuredClone(analysis.lines ?? []) };
  corners = [];
  message.textContent = "";
  $("zone-camera").textContent = `${config.id} (${config.name})`;
  picture.src = `/api/cameras/${config.id}/snapshot.jpg?at=${Date.now()}`;
  editor.hidden = false;
  draw();
  editor.scrollIntoView({ block: "nearest" });
}
