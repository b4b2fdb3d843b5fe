// A camera's recordings: a day bar with the recorded ranges (GET /api/recordings), the events on
// them and the gaps in what its mode asked for, with their cause (GET /api/recordings/coverage), and
// how much of the last 24 hours is recorded; a click plays from that moment (a clip of the next ten minutes, stream-copied by the
// gateway), 1x/2x/4x, and the selected range downloads as an MP4. An event's "Play clip" opens the
// event's own clip (with its pre- and post-capture). Everything from the API goes in as text.
import { showCounts } from "/static/counts.js";

const DAY_S = 86400;
const PLAY_S = 600;  // a click plays this much from where it lands; a later click loads the next part

const dialog = document.getElementById("timeline");
const title = dialog.querySelector("h2");
const dayInput = dialog.querySelector("input[name=day]");
const bar = dialog.querySelector(".bar");
const video = dialog.querySelector("video");
const fromInput = dialog.querySelector("input[name=from]");
const toInput = dialog.querySelector("input[name=to]");
const download = dialog.querySelector("a.download");
const message = dialog.querySelector(".message");
const coverageLine = dialog.querySelector(".coverage");
const countsSection = dialog.querySelector("section.counts");
let camera = null;
let dayStart = 0;
let ranges = [];  // the day's recorded ranges, oldest first

const clipUrl = (start, end) => `/api/cameras/${camera.id}/clip.mp4?start=${start.toFixed(3)}&end=${end.toFixed(3)}`;
const localTime = (seconds) => new Date(seconds * 1000).toTimeString().slice(0, 8);

function block(className, start, end, label) {
  const made = document.createElement("div");
  made.className = className;
  const left = Math.max(0, (start - dayStart) / DAY_S);
  const right = Math.min(1, ((end ?? Date.now() / 1000) - dayStart) / DAY_S);
  Object.assign(made.style, { left: `${left * 100}%`, width: `max(2px, ${(right - left) * 100}%)` });
  made.title = label;
  return made;
}

async function loadDay() {
  const [year, month, day] = dayInput.value.split("-").map(Number);
  dayStart = new Date(year, month - 1, day).getTime() / 1000;
  const reply = await fetch(`/api/recordings?camera_id=${camera.id}&since=${dayStart}&until=${dayStart + DAY_S}`);
  const body = await reply.json();
  if (!reply.ok) { message.textContent = String(body.detail); return; }
  const blocks = [];
  ranges = body.recordings;
  for (const range of body.recordings) {
    blocks.push(block("range", range.start, range.end, `recorded ${localTime(range.start)}–${localTime(range.end)}`));
    for (const event of [...range.motion, ...range.events]) {
      blocks.push(block(`mark ${event.type === "motion" ? "motion" : "event"}`, event.start, event.end,
        `${event.type} at ${localTime(event.start)}`));
    }
  }
  blocks.push(...await gapBlocks());
  bar.replaceChildren(...blocks);
  bar.dataset.ranges = String(body.recordings.length);
  message.textContent = body.recordings.length ? "" : "Nothing recorded on this day.";
}

// What the camera's mode asked for and did not get on the bar's day (a day still to come has none).
async function gapBlocks() {
  const reply = await fetch(`/api/recordings/coverage?camera_id=${camera.id}&since=${dayStart}&until=${dayStart + DAY_S}`);
  if (!reply.ok) return [];
  const [found] = (await reply.json()).cameras;
  bar.dataset.gaps = String(found.gaps.length);
  return found.gaps.map((gap) => block("gap", gap.start, gap.end,
    `not recorded ${localTime(gap.start)}–${localTime(gap.end)}${gap.cause ? `: ${gap.cause}` : ""}`));
}

async function showCoverage() {
  coverageLine.textContent = "";
  const reply = await fetch(`/api/recordings/coverage?camera_id=${camera.id}`);
  if (!reply.ok) return;
  const [found] = (await reply.json()).cameras;
  coverageLine.textContent = found.fraction === null
    ? `Its recording mode (${found.mode}) asked for no footage in the last 24 h.`
    : `Recorded ${(found.fraction * 100).toFixed(1)} % of what its mode (${found.mode}) asked for in the last 24 h`
      + (found.gaps.length ? `: ${found.gaps.length} gap${found.gaps.length > 1 ? "s" : ""}.` : ".");
}

function play(url, startsAt) {
  video.src = url;
  video.dataset.startsAt = String(startsAt);
  video.playbackRate = Number(dialog.querySelector(".speed [aria-pressed=true]")?.dataset.rate || 1);
  video.play().catch(() => { /* the user presses play */ });
}

function select(start, end) {
  fromInput.value = localTime(start);
  toInput.value = localTime(end);
  download.href = clipUrl(start, end);
}

function secondsOf(input) {
  const [h, m, s] = input.value.split(":").map(Number);
  return dayStart + h * 3600 + m * 60 + (s || 0);
}

function snapped(at) {
  // A pixel of the bar is 1.5 minutes of the day: a click lands on the nearest recorded moment.
  let best = null;
  for (const range of ranges) {
    const inside = Math.min(Math.max(at, range.start), Math.max(range.start, range.end - 1));
    if (best === null || Math.abs(inside - at) < Math.abs(best - at)) best = inside;
  }
  return best ?? at;
}

bar.onclick = (e) => {
  const rect = bar.getBoundingClientRect();
  const at = snapped(dayStart + ((e.clientX - rect.left) / rect.width) * DAY_S);
  play(clipUrl(at, at + PLAY_S), at);
  select(at, at + 60);
};
dayInput.onchange = () => { loadDay(); showCounts(countsSection, camera.id, dayStart); };
fromInput.onchange = toInput.onchange = () => select(secondsOf(fromInput), secondsOf(toInput));
for (const button of dialog.querySelectorAll(".speed button")) {
  button.onclick = () => {
    for (const other of dialog.querySelectorAll(".speed button")) other.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-pressed", "true");
    video.playbackRate = Number(button.dataset.rate);
  };
}
video.onerror = () => { message.textContent = "Nothing recorded there."; };
dialog.addEventListener("close", () => { video.pause(); video.removeAttribute("src"); video.load(); });

export async function openTimeline(forCamera, event = null) {
  camera = forCamera;
  title.textContent = `Recordings · ${camera.name}`;
  const day = new Date(((event?.startedAt) ?? Date.now() / 1000) * 1000);
  dayInput.value = `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, "0")}-${String(day.getDate()).padStart(2, "0")}`;
  message.textContent = "";
  dialog.showModal();
  await Promise.all([loadDay(), showCoverage()]);
  await showCounts(countsSection, camera.id, dayStart);
  if (event) {
    play(`/api/events/${encodeURIComponent(event.id)}/clip.mp4`, event.startedAt);
    select(event.startedAt - 5, (event.endedAt ?? event.startedAt) + 5);
  }
}
