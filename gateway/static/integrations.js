// Integrations (admins): the bridge's targets and how they fare, webhooks and notification
// targets added, tested and deleted. URLs come back masked and secrets never do (a generated
// webhook secret is shown once, here). Everything from the API goes in as text.
import { api, button, cell } from "/static/account.js";

const $ = (id) => document.getElementById(id);
const dialog = $("integrations");
const message = $("integrations-message");
const when = (seconds) => (seconds ? new Date(seconds * 1000).toLocaleTimeString() : "never");

function filters(item) {
  const cameras = item.cameras.length ? `cameras ${item.cameras.join(", ")}` : "all cameras";
  const types = item.types.length ? item.types.join(", ") : "all types";
  return `${cameras}; ${types}; ${item.phases.join(" and ")}`;
}

async function showStatus() {
  const system = await api("/api/system");
  const rows = system.bridge.targets.map((t) => {
    const row = document.createElement("tr");
    row.dataset.target = t.name;
    row.append(cell(`${t.label} (${t.name})`), cell(t.connected ? "yes" : "no"), cell(t.delivered), cell(t.failures),
      cell(t.queued), cell(when(t.lastDeliveryAt)), cell(t.lastError ?? ""));
    return row;
  });
  if (!system.bridge.alive) message.textContent = "The bridge process is not running: nothing is delivered.";
  $("integration-status").tBodies[0].replaceChildren(...rows);
}

async function showList(kind, table) {
  const rows = (await api(`/api/${kind}`)).map((item) => {
    const row = document.createElement("tr");
    row.dataset.id = item.id;
    const actions = cell();
    if (kind === "notifications") actions.append(button("Test", () => test(item.id)));
    actions.append(button("Delete", () => { if (confirm(`Delete ${item.name}?`)) remove(kind, item.id); }));
    row.append(cell(item.id), cell(item.name), cell(item.url), cell(filters(item)), actions);
    return row;
  });
  $(table).tBodies[0].replaceChildren(...rows);
}

function showAll() {
  showStatus().catch((error) => { message.textContent = String(error.message); });
  showList("webhooks", "webhook-list");
  showList("notifications", "notify-list");
}

function body(form) {
  const fields = { name: form.name.value.trim(), url: form.url.value.trim() };
  const cameras = form.cameras.value.split(",").map((c) => c.trim()).filter(Boolean).map(Number);
  fields.cameras = cameras;
  fields.types = form.types.value ? [form.types.value] : [];
  return fields;
}

async function add(kind, fields, form) {
  try {
    const made = await api(`/api/${kind}`, { method: "POST", body: JSON.stringify(fields) });
    form.reset();
    message.textContent = `Added ${made.name}.`;
    if (made.secret) $("webhook-secret").textContent = `Its secret (shown once): ${made.secret}`;
  } catch (error) { message.textContent = String(error.message); }
  showAll();
}

async function remove(kind, id) {
  try {
    await api(`/api/${kind}/${id}`, { method: "DELETE" });
    message.textContent = "Deleted.";
  } catch (error) { message.textContent = String(error.message); }
  showAll();
}

async function test(id) {
  message.textContent = "Sending a test notification…";
  try {
    await api(`/api/notifications/${id}/test`, { method: "POST" });
    message.textContent = "Test notification sent.";
  } catch (error) { message.textContent = String(error.message); }
}

$("webhook-form").onsubmit = (event) => {
  event.preventDefault();
  const form = event.target;
  const fields = body(form);
  if (form.secret.value) fields.secret = form.secret.value;
  add("webhooks", fields, form);
};
$("notify-form").onsubmit = (event) => {
  event.preventDefault();
  const form = event.target;
  const fields = body(form);
  if (form.cooldown.value) fields.cooldownS = Number(form.cooldown.value);
  add("notifications", fields, form);
};

export function startIntegrations(me) {
  if (me.role !== "admin") return;
  $("open-integrations").hidden = false;
  $("open-integrations").onclick = () => { message.textContent = ""; $("webhook-secret").textContent = ""; dialog.showModal(); showAll(); };
}
