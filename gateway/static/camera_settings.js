// Settings -> Cameras (admins): the cameras as stored, add one (probe it first), edit, enable or
// disable, delete, and draw its zones and masks (zone_editor.js). Changes go through the camera API
// and reach every process within a second; the grid follows (dashboard.js). Everything from the
// API goes in as text.
import { api, button, cell } from "/static/account.js";
import { editZones } from "/static/zone_editor.js";

const $ = (id) => document.getElementById(id);
const dialog = $("cameras");
const form = $("camera-form");
const message = $("cameras-message");
let editing = null;  // the id being edited, or null for a new camera

async function showCameras() {
  const rows = [];
  for (const listed of await api("/api/cameras")) {
    const camera = await api(`/api/cameras/${listed.id}/config`);
    const row = document.createElement("tr");
    row.dataset.camera = camera.id;
    const actions = cell();
    if (camera.registry) actions.textContent = "managed by the registry ";
    actions.append(button("Zones", () => editZones(camera)));
    if (watchedForTamper(camera)) actions.append(button("New normal view", () => newNormalView(camera)));
    if (!camera.registry) {
      actions.append(
        button("Edit", () => edit(camera)),
        button(camera.enabled ? "Disable" : "Enable", () => save(camera.id, { enabled: !camera.enabled })),
        button("Delete", () => { if (confirm(`Delete camera ${camera.id} (${camera.name})? Its events and recordings are kept.`)) remove(camera.id); }),
      );
    }
    row.append(cell(camera.id), cell(camera.name), cell(camera.source), cell(camera.enabled ? "yes" : "no"), actions);
    rows.push(row);
  }
  $("camera-list").tBodies[0].replaceChildren(...rows);
}

function edit(camera) {
  editing = camera.id;
  for (const name of ["name", "location", "channel", "source", "detect_source", "fps"]) form[name].value = camera[name] ?? "";
  form.querySelector("button[type=submit]").textContent = `Save camera ${camera.id}`;
  message.textContent = "";
}

function fields() {
  const body = { name: form.name.value, location: form.location.value, source: form.source.value.trim() };
  if (form.channel.value) body.channel = Number(form.channel.value);
  if (form.fps.value) body.fps = Number(form.fps.value);
  if (form.detect_source.value.trim()) body.detect_source = form.detect_source.value.trim();
  return body;
}

async function save(id, body) {
  try {
    await api(id === null ? "/api/cameras" : `/api/cameras/${id}`, { method: id === null ? "POST" : "PATCH", body: JSON.stringify(body) });
    message.textContent = "Saved: it starts within a few seconds.";
    editing = null;
    form.reset();
    form.querySelector("button[type=submit]").textContent = "Add camera";
  } catch (error) { message.textContent = String(error.message); }
  showCameras();
  setTimeout(showCameras, 1500);  // the gateway applies a change within a second
}

// A camera whose view is watched for tampering (analysed, tamper on: the defaults when absent).
function watchedForTamper(camera) {
  return camera.enabled !== false && camera.analysis?.enabled !== false && camera.health?.enabled !== false && camera.health?.tamper !== false;
}

// After a deliberate move: the view now is the normal one; an open tamper event ends.
async function newNormalView(camera) {
  if (!confirm(`Take what ${camera.name} sees now as its normal view? An open tamper event of it ends.`)) return;
  try {
    const answer = await api(`/api/cameras/${camera.id}/health/reference`, { method: "POST" });
    message.textContent = `${camera.name}: its view is learnt again over the next ${answer.learnS} s.`;
  } catch (error) { message.textContent = String(error.message); }
}

async function remove(id) {
  try {
    await api(`/api/cameras/${id}`, { method: "DELETE" });
    message.textContent = `Camera ${id} deleted.`;
  } catch (error) { message.textContent = String(error.message); }
  showCameras();
  setTimeout(showCameras, 1500);
}

$("camera-probe").onclick = async () => {
  message.textContent = "Probing…";
  try {
    const found = await api("/api/cameras/probe", { method: "POST", body: JSON.stringify({ source: form.source.value.trim() }) });
    const gop = found.keyframeIntervalS ? `, a keyframe every ${found.keyframeIntervalS} s` : "";
    message.textContent = `${found.codec} ${found.width}x${found.height} at ${found.fps} fps${gop}, audio: ${found.audio ?? "none"}`;
  } catch (error) { message.textContent = String(error.message); }
};
form.onsubmit = (event) => { event.preventDefault(); save(editing, fields()); };

export function startCameraSettings(me) {
  if (me.role !== "admin") return;
  $("open-cameras").hidden = false;
  $("open-cameras").onclick = () => { dialog.showModal(); showCameras(); };
}
