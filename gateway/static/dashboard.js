// The camstream dashboard: every camera live over WebRTC (MJPEG when WebRTC cannot connect),
// the event feed, and the system's health. Plain JavaScript module, served by the gateway.
// Everything that comes from the API or the bus is inserted as text (textContent, properties),
// never as HTML: an event is data, and data must not run in the page.
import { Tile } from "/static/tile.js";
import { api, startAccount } from "/static/account.js";
import { openTimeline } from "/static/timeline.js";
import { startCameraSettings } from "/static/camera_settings.js";
import { startIntegrations } from "/static/integrations.js";
import { offerEnrolment, startFaces, whoLabel } from "/static/faces.js";

const tiles = new Map();
const cameraNames = new Map();
const shown = new Map();  // event id -> its item in the feed
const feed = document.getElementById("feed");
const filterCamera = document.getElementById("filter-camera");
const filterType = document.getElementById("filter-type");
const EVENTS_SHOWN = 50;

const getJson = (path) => api(path);  // a lapsed session goes back to the login page

function addTile(camera) {
  cameraNames.set(camera.id, camera.name);
  filterCamera.append(new Option(camera.name, camera.id));
  if (!camera.enabled) return;
  const tile = new Tile(camera);
  tiles.set(camera.id, tile);
  document.getElementById("grid").append(tile.element);
  tile.connect();
}

async function start() {
  const me = await startAccount();
  startCameraSettings(me);
  startIntegrations(me);
  startFaces(me);
  for (const camera of await getJson("/api/cameras")) addTile(camera);
  window.camstream = { tiles };  // for tests and the curious
  setInterval(refreshStatus, 2000);
  setInterval(refreshSystem, 5000);
  refreshSystem();
  filterCamera.onchange = filterType.onchange = loadEvents;
  followEvents();  // history is loaded once the live socket is open: nothing falls between the two
}

async function refreshStatus() {
  try {
    const cameras = await getJson("/api/cameras");
    // Cameras added, enabled, disabled or deleted meanwhile (Settings -> Cameras, the registry): the grid follows.
    const enabled = new Set(cameras.filter((c) => c.enabled).map((c) => c.id));
    for (const [id, tile] of tiles) {
      if (!enabled.has(id)) { tile.close(); tile.element.remove(); tiles.delete(id); }
    }
    for (const camera of cameras) {
      if (camera.enabled && !tiles.has(camera.id)) {
        [...filterCamera.options].find((o) => o.value === String(camera.id))?.remove();
        addTile(camera);
      }
      tiles.get(camera.id)?.setStatus(camera);
    }
  } catch {
    for (const tile of tiles.values()) tile.setStatus({ status: "offline", fps: null });
  }
}

function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

async function refreshSystem() {
  const panel = document.getElementById("system");
  const pill = (text, ok) => element("span", ok === undefined ? "pill" : `pill ${ok ? "ok" : "bad"}`, text);
  try {
    const system = await getJson("/api/system");
    const providers = [...new Set(system.workers.map((w) => String(w.provider).replace("ExecutionProvider", "")))];
    panel.replaceChildren(
      pill(system.redis ? "Redis ✓" : "Redis unreachable", system.redis),
      pill(system.ingest ? "ingest ✓" : "ingest down", system.ingest),
      pill(`${system.workers.length} analyzer worker${system.workers.length === 1 ? "" : "s"}`, system.workers.length > 0),
      pill(`detector on ${providers.join(", ") || "—"}`, providers.length > 0),
      pill(`${system.sessions} viewer session${system.sessions === 1 ? "" : "s"}`),
      pill(`recordings ${gigabytes(system.recordings.bytes)} · ${gigabytes(system.recordings.diskFree)} free`,
        system.recordings.diskFree === null || system.recordings.diskFree > (system.recordings.diskFloor ?? 0)),
    );
    // Each ingest host: what it runs and what that costs it (hover: which cameras, its estimated load).
    for (const host of system.ingestHosts ?? []) {
      const count = host.cameras.length;
      const cpu = host.cpuPercent == null ? "" : ` · ${host.cpuPercent.toFixed(0)} % of a core`;
      const made = pill(`${host.host}: ${count} camera${count === 1 ? "" : "s"}${cpu}`);
      made.title = `cameras ${host.cameras.join(", ") || "none"} · estimated load ${host.load} % of a core`
        + `${host.group ? ` · group ${host.group}` : ""}${host.fenced ? " · fenced" : ""}`;
      panel.append(made);
    }
    if (system.ingestUnplaced?.length) {
      panel.append(pill(`no ingest host for camera ${system.ingestUnplaced.join(", ")}`, false));
    }
    if (system.cameraFile) {
      // A refused edit of the camera file: the cameras in force are the last good ones until it is fixed.
      const refused = pill("camera file refused", false);
      refused.title = system.cameraFile.problem;
      panel.append(refused, element("span", "problem", system.cameraFile.problem));
    }
    const targets = system.bridge.targets;
    const connected = targets.filter((t) => t.connected).length;
    if (!system.bridge.alive) panel.append(pill("bridge down", false));
    else if (targets.length) panel.append(pill(`integrations ${connected}/${targets.length} ✓`, connected === targets.length));
  } catch {
    panel.replaceChildren(pill("gateway unreachable", false));
  }
}

function gigabytes(bytes) {
  return bytes == null ? "—" : `${(bytes / 1024 ** 3).toFixed(bytes < 1024 ** 3 ? 2 : 1)} GB`;
}

// The type filter holds a type ("person", "object") or "label:<label>" for one kind of object.
function wanted(event) {
  const [what, label] = filterType.value.startsWith("label:") ? ["label", filterType.value.slice(6)] : ["type", filterType.value];
  return (!filterCamera.value || String(event.cameraId) === filterCamera.value)
    && (!filterType.value || (what === "label" ? event.label === label : event.type === filterType.value));
}

// What the feed says was seen: an object by its label, a parked one marked so.
function kindOf(event) {
  // The system's own: a camera whose footage stopped, and why.
  if (event.type === "recording_gap") return `recording stopped${event.reason ? ` (${event.reason})` : ""}`;
  if (event.type === "offline") return `camera offline${event.reason ? ` (${event.reason})` : ""}`;
  if (event.type === "tamper") return `camera ${event.reason ?? "tampered with"}`;
  // The rules': what crossed or entered, and where.
  const who = event.label ?? "someone";
  if (event.type === "line_crossed") return `${who} crossed ${event.line} (${event.direction})`;
  if (event.type === "zone_entered") return `${who} entered ${event.zone}`;
  if (event.type === "zone_left") return `${who} left ${event.zone}`;
  if (event.type === "loitering") return `${who} lingering in ${event.zone}`;
  const seen = event.type === "object" && event.label ? event.label : event.type;
  return event.stationary ? `${seen} (parked)` : seen;
}

function cameraName(event) {
  return cameraNames.get(event.cameraId) ?? `camera ${event.cameraId}`;
}

function snapshotUrl(event) {
  // Built by the gateway; only ever one of its own paths.
  return typeof event.snapshotUrl === "string" && event.snapshotUrl.startsWith("/api/") ? event.snapshotUrl : null;
}

function eventItem(event) {
  const item = element("li");
  const when = new Date(event.startedAt * 1000).toLocaleTimeString();
  const score = event.score != null ? ` · ${Math.round(event.score * 100)} %` : "";
  const ended = event.phase === "end" ? ` · ${Math.max(0, event.endedAt - event.startedAt).toFixed(1)} s` : " · now";
  const picture = snapshotUrl(event);
  if (picture) {
    const thumb = element("img");
    thumb.loading = "lazy";
    thumb.alt = "";
    thumb.src = picture;
    item.append(thumb);
    item.onclick = () => openSnapshot(event);
  } else {
    item.append(element("span"));
  }
  const text = element("div");
  text.append(element("div", "kind", `${kindOf(event)}${whoLabel(event)}`), element("div", "meta", `${cameraName(event)} · ${when}${score}${ended}`));
  if (event.type !== "recording_gap" && event.type !== "offline") { // no footage to play
    const clip = element("button", "clip", "Play clip");
    clip.type = "button";
    clip.onclick = (e) => { e.stopPropagation(); openTimeline({ id: event.cameraId, name: cameraName(event) }, event); };
    text.append(clip);
  }
  item.append(text);
  return item;
}

function showEvent(event) {
  if (!wanted(event)) return;
  feed.querySelector(".empty")?.remove();
  const item = eventItem(event);
  item.dataset.startedAt = String(event.startedAt);
  const existing = shown.get(event.id);
  if (existing?.isConnected) existing.replaceWith(item);
  else {
    // Newest first by start, whether it came live or from history.
    const later = [...feed.children].find((li) => Number(li.dataset.startedAt) < event.startedAt);
    feed.insertBefore(item, later ?? null);
  }
  shown.set(event.id, item);
  while (feed.children.length > EVENTS_SHOWN) feed.lastElementChild.remove();
  for (const [id, kept] of shown) if (!kept.isConnected) shown.delete(id);
}

async function loadEvents() {
  const query = new URLSearchParams({ limit: EVENTS_SHOWN });
  if (filterCamera.value) query.set("camera", filterCamera.value);
  if (filterType.value.startsWith("label:")) query.set("label", filterType.value.slice(6));
  else if (filterType.value) query.set("type", filterType.value);
  feed.replaceChildren();
  shown.clear();
  try {
    const page = await getJson(`/api/events?${query}`);
    for (const event of page.events.reverse()) showEvent(event);
  } catch { /* the live feed fills it in */ }
  if (!feed.children.length) feed.replaceChildren(element("li", "empty", "No events yet."));
}

function followEvents() {
  const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/events`);
  let opened = false;
  // History loads once the live socket is open, also after a reconnect: nothing published in
  // between is missed. Without a socket the history still shows.
  socket.onopen = () => { opened = true; loadEvents(); };
  socket.onmessage = (message) => showEvent(JSON.parse(message.data));
  socket.onclose = () => {
    if (!opened) loadEvents();
    setTimeout(followEvents, 3000);  // the gateway restarted: follow again
  };
}

function openSnapshot(event) {
  const dialog = document.getElementById("snapshot");
  dialog.querySelector("img").src = snapshotUrl(event);
  dialog.querySelector("p").textContent =
    `${kindOf(event)}${whoLabel(event)} · ${cameraName(event)} · ${new Date(event.startedAt * 1000).toLocaleString()}`;
  offerEnrolment(event);
  dialog.showModal();
}

start().catch((error) => { document.getElementById("grid").textContent = `Cannot load the cameras: ${error}`; });
