// Known faces: the names on face events, and (admins) enrolling people from an uploaded picture or
// from a face event's snapshot, and deleting them. Everything from the API goes in as text.
import { api, button, cell } from "/static/account.js";

const $ = (id) => document.getElementById(id);
const dialog = $("faces");
const message = $("faces-message");
let admin = false;

// What a face event says of who it is: the name, "unknown", or nothing when nobody is enrolled.
export function whoLabel(event) {
  if (event.type !== "face" || event.similarity == null) return "";
  return event.identity ? ` · ${event.identity} (${Math.round(event.similarity * 100)} %)` : " · unknown";
}

async function addPicture(name, body, type) {
  const known = (await api("/api/faces")).some((person) => person.name === name);
  if (!known) await api("/api/faces", { method: "POST", body: JSON.stringify({ name }) });
  const reply = await fetch(`/api/faces/${encodeURIComponent(name)}/samples`, {
    method: "POST", body, headers: { "Content-Type": type }, cache: "no-store",
  });
  const answer = await reply.json().catch(() => ({}));
  if (!reply.ok) throw new Error(typeof answer.detail === "string" ? answer.detail : `enrolment: ${reply.status}`);
  return answer;
}

async function showFaces() {
  const rows = (await api("/api/faces")).map((person) => {
    const row = document.createElement("tr");
    row.dataset.name = person.name;
    const actions = cell();
    if (admin) actions.append(button("Delete", () => { if (confirm(`Delete ${person.name} and every picture of them?`)) forget(person.name); }));
    row.append(cell(person.name), cell(person.samples), actions);
    return row;
  });
  $("face-list").tBodies[0].replaceChildren(...rows);
}

async function forget(name) {
  try {
    await api(`/api/faces/${encodeURIComponent(name)}`, { method: "DELETE" });
    message.textContent = `${name} deleted, with every picture.`;
  } catch (error) { message.textContent = String(error.message); }
  showFaces();
}

$("face-form").onsubmit = async (event) => {
  event.preventDefault();
  const form = event.target;
  const file = form.picture.files[0];
  if (!file) { message.textContent = "Choose a picture with the person's face."; return; }
  try {
    const person = await addPicture(form.name.value.trim(), await file.arrayBuffer(), file.type || "image/jpeg");
    message.textContent = `${person.name}: ${person.samples} picture(s).`;
    form.reset();
  } catch (error) { message.textContent = String(error.message); }
  showFaces();
};

// In the snapshot dialog of a face event: enrol the face it shows (admins).
export function offerEnrolment(event) {
  const form = $("enrol-form");
  form.hidden = !(admin && event.type === "face" && event.snapshotUrl);
  $("enrol-message").textContent = "";
  form.onsubmit = async (submitted) => {
    submitted.preventDefault();
    try {
      const person = await addPicture(form.name.value.trim(), JSON.stringify({ eventId: event.id }), "application/json");
      $("enrol-message").textContent = `Enrolled: ${person.name} has ${person.samples} picture(s).`;
    } catch (error) { $("enrol-message").textContent = String(error.message); }
  };
}

export function startFaces(me) {
  admin = me.role === "admin";
  $("face-form").hidden = !admin;
  $("open-faces").onclick = () => { message.textContent = ""; dialog.showModal(); showFaces(); };
}
