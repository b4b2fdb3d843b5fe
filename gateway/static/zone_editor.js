// Settings -> Cameras -> Zones: draw the analyzer's motion zones and masks as polygons on the
// camera's latest picture. Points are fractions of the frame (0..1), as the camera file keeps
// them, so a change of resolution keeps them in place. Saving replaces the camera's
// `analysis.motion_zones` and `analysis.motion_masks` (its other analysis settings are sent back
// unchanged); the analyzer applies them within a second. With zones set, person and face events
// also count only when the object's foot point is inside one.
import { api, button } from "/static/account.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const editor = $("zone-editor");
const picture = editor.querySelector("img");
const drawing = editor.querySelector("svg");
const message = $("zone-message");
let camera = null;  // the camera's stored config while editing
let shapes = { motion_zones: [], motion_masks: [] };
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

function draw() {
  const drawn = [];
  for (const points of shapes.motion_zones) drawn.push(polygon(points, "zone"));
  for (const points of shapes.motion_masks) drawn.push(polygon(points, "mask"));
  if (corners.length) drawn.push(polygon(corners, `drawing ${kind() === "motion_masks" ? "mask" : "zone"}`));
  drawing.replaceChildren(...drawn);
  const items = [];
  for (const [key, label] of [["motion_zones", "Zone"], ["motion_masks", "Mask"]]) {
    shapes[key].forEach((points, index) => {
      const item = document.createElement("li");
      item.textContent = `${label} ${index + 1}: ${points.length} corners `;
      item.append(button("Remove", () => { shapes[key].splice(index, 1); draw(); }));
      items.push(item);
    });
  }
  $("zone-list").replaceChildren(...items);
}

drawing.addEventListener("click", (event) => {
  const frame = drawing.getBoundingClientRect();
  corners.push([rounded((event.clientX - frame.left) / frame.width), rounded((event.clientY - frame.top) / frame.height)]);
  draw();
});

function finish() {
  if (corners.length < 3) { message.textContent = "A shape needs at least 3 corners: click on the picture."; return; }
  shapes[kind()].push(corners);
  corners = [];
  message.textContent = "";
  draw();
}

$("zone-finish").onclick = finish;
$("zone-undo").onclick = () => { corners.pop(); draw(); };
$("zone-clear").onclick = () => { shapes = { motion_zones: [], motion_masks: [] }; corners = []; draw(); };
$("zone-cancel").onclick = () => { editor.hidden = true; camera = null; };
$("zone-save").onclick = async () => {
  if (corners.length) finish();
  if (corners.length) return;  // too few corners: finish() said so
  try {
    const analysis = { ...camera.analysis, motion_zones: shapes.motion_zones, motion_masks: shapes.motion_masks };
    camera = await api(`/api/cameras/${camera.id}`, { method: "PATCH", body: JSON.stringify({ analysis }) });
    message.textContent = `Saved: camera ${camera.id} has ${shapes.motion_zones.length} zone(s) and ${shapes.motion_masks.length} mask(s).`;
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
  shapes = { motion_zones: structuredClone(config.analysis.motion_zones), motion_masks: structuredClone(config.analysis.motion_masks) };
  corners = [];
  message.textContent = "";
  $("zone-camera").textContent = `${config.id} (${config.name})`;
  picture.src = `/api/cameras/${config.id}/snapshot.jpg?at=${Date.now()}`;
  editor.hidden = false;
  draw();
  editor.scrollIntoView({ block: "nearest" });
}
