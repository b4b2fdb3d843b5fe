// The camstream dashboard: every camera live over WebRTC (MJPEG when WebRTC cannot connect),
// the event feed, and the system's health. Plain JavaScript module, served by the gateway.
import { Tile } from "/static/tile.js";

const tiles = new Map();
const cameraNames = new Map();
const feed = document.getElementById("feed");
const filterCamera = document.getElementById("filter-camera");
const filterType = document.getElementById("filter-type");
const EVENTS_SHOWN = 50;

async function getJson(path) {
  const reply = await fetch(path, { cache: "no-store" });
  if (!reply.ok) throw new Error(`${path}: ${reply.status}`);
  return reply.json();
}

async function start() {
  const cameras = await getJson("/api/cameras");
  const grid = document.getElementById("grid");
  for (const camera of cameras) {
    cameraNames.set(camera.id, camera.name);
    filterCamera.append(new Option(camera.name, camera.id));
    if (!camera.enabled) continue;
    const tile = new Tile(camera);
    tiles.set(camera.id, tile);
    grid.append(tile.element);
    tile.connect();
  }
  window.camstream = { tiles };  // for tests and the curious
  setInterval(refreshStatus, 2000);
  setInterval(refreshSystem, 5000);
  refreshSystem();
  filterCamera.onchange = filterType.onchange = loadEvents;
  await loadEvents();
  followEvents();
}

async function refreshStatus() {
  try {
    for (const camera of await getJson("/api/cameras")) tiles.get(camera.id)?.setStatus(camera);
  } catch {
    for (const tile of tiles.values()) tile.setStatus({ status: "offline", fps: null });
  }
}

async function refreshSystem() {
  const panel = document.getElementById("system");
  const pill = (text, ok) => `<span class="pill ${ok ? "ok" : "bad"}">${text}</span>`;
  try {
    const system = await getJson("/api/system");
    const providers = [...new Set(system.workers.map((w) => w.provider.replace("ExecutionProvider", "")))];
    panel.innerHTML = [
      pill(system.redis ? "Redis ✓" : "Redis unreachable", system.redis),
      pill(system.ingest ? "ingest ✓" : "ingest down", system.ingest),
      pill(`${system.workers.length} analyzer worker${system.workers.length === 1 ? "" : "s"}`, system.workers.length > 0),
      pill(`detector on ${providers.join(", ") || "—"}`, providers.length > 0),
      `<span class="pill">${system.sessions} viewer session${system.sessions === 1 ? "" : "s"}</span>`,
    ].join("");
  } catch {
    panel.innerHTML = pill("gateway unreachable", false);
  }
}

function wanted(event) {
  return (!filterCamera.value || String(event.camera_id) === filterCamera.value)
    && (!filterType.value || event.type === filterType.value);
}

function eventItem(event) {
  const item = document.createElement("li");
  item.dataset.id = event.id;
  const when = new Date(event.started_at_s * 1000).toLocaleTimeString();
  const score = event.score != null ? ` · ${Math.round(event.score * 100)} %` : "";
  const ended = event.phase === "end" ? ` · ${Math.max(0, event.ended_at_s - event.started_at_s).toFixed(1)} s` : " · now";
  const thumb = event.snapshot ? `<img loading="lazy" alt="" src="/api/events/${event.id}/snapshot.jpg">` : "<span></span>";
  item.innerHTML = `${thumb}<div><div class="kind">${event.type}</div>
    <div class="meta">${cameraNames.get(event.camera_id) ?? `camera ${event.camera_id}`} · ${when}${score}${ended}</div></div>`;
  if (event.snapshot) item.onclick = () => openSnapshot(event);
  return item;
}

function showEvent(event) {
  if (!wanted(event)) return;
  feed.querySelector(".empty")?.remove();
  const item = eventItem(event);
  const existing = feed.querySelector(`li[data-id="${event.id}"]`);
  if (existing) existing.replaceWith(item);
  else feed.prepend(item);
  while (feed.children.length > EVENTS_SHOWN) feed.lastElementChild.remove();
}

async function loadEvents() {
  const query = new URLSearchParams({ limit: EVENTS_SHOWN });
  if (filterCamera.value) query.set("camera", filterCamera.value);
  if (filterType.value) query.set("type", filterType.value);
  feed.innerHTML = "";
  try {
    const page = await getJson(`/api/events?${query}`);
    for (const event of page.events.reverse()) showEvent(event);
  } catch { /* the live feed fills it in */ }
  if (!feed.children.length) feed.innerHTML = '<li class="empty">No events yet.</li>';
}

function followEvents() {
  const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/events`);
  socket.onmessage = (message) => showEvent(JSON.parse(message.data));
  socket.onclose = () => setTimeout(followEvents, 3000);  // the gateway restarted: follow again
}

function openSnapshot(event) {
  const dialog = document.getElementById("snapshot");
  dialog.querySelector("img").src = `/api/events/${event.id}/snapshot.jpg`;
  dialog.querySelector("p").textContent =
    `${event.type} · ${cameraNames.get(event.camera_id) ?? event.camera_id} · ${new Date(event.started_at_s * 1000).toLocaleString()}`;
  dialog.showModal();
}

start().catch((error) => { document.getElementById("grid").textContent = `Cannot load the cameras: ${error}`; });
