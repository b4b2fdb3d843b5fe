// Who is logged in, logging out, one's password and API tokens, and (for admins) users and the
// audit log. Everything from the API is inserted as text, never as HTML.
const $ = (id) => document.getElementById(id);

export function cell(text) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  return td;
}

export function button(text, action) {
  const made = document.createElement("button");
  made.type = "button";
  made.textContent = text;
  made.onclick = action;
  return made;
}

export async function api(path, options = {}) {
  const reply = await fetch(path, {
    cache: "no-store", ...options,
    headers: options.body ? { "Content-Type": "application/json" } : {},
  });
  if (reply.status === 401) {
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new Error("not logged in");
  }
  if (!reply.ok) {
    const answer = await reply.json().catch(() => ({}));
    throw new Error(typeof answer.detail === "string" ? answer.detail : `${path}: ${reply.status}`);
  }
  return reply.status === 204 ? null : reply.json();
}

const when = (seconds) => (seconds ? new Date(seconds * 1000).toLocaleString() : "never");

async function showTokens() {
  const rows = (await api("/api/auth/tokens")).map((token) => {
    const row = document.createElement("tr");
    row.append(cell(token.name), cell(token.role), cell(token.username), cell(when(token.lastUsedAt)));
    const revoke = cell();
    revoke.append(button("Revoke", async () => {
      await api(`/api/auth/tokens/${encodeURIComponent(token.id)}`, { method: "DELETE" });
      showTokens();
    }));
    row.append(revoke);
    return row;
  });
  $("tokens").tBodies[0].replaceChildren(...rows);
}

async function showUsers(me) {
  const message = $("users-message");
  const rows = (await api("/api/users")).map((user) => {
    const row = document.createElement("tr");
    const role = document.createElement("select");
    for (const name of ["viewer", "admin"]) role.append(new Option(name, name, false, name === user.role));
    role.onchange = () => change(`/api/users/${encodeURIComponent(user.username)}`, "PATCH", { role: role.value });
    const roleCell = cell();
    roleCell.append(role);
    const actions = cell();
    actions.append(button("Set password", () => {
      const password = prompt(`New password for ${user.username} (at least 8 characters)`);
      if (password) change(`/api/users/${encodeURIComponent(user.username)}`, "PATCH", { password });
    }));
    if (user.username !== me.username) {
      actions.append(button("Delete", () => {
        if (confirm(`Delete ${user.username}?`)) change(`/api/users/${encodeURIComponent(user.username)}`, "DELETE");
      }));
    }
    row.append(cell(user.username), roleCell, actions);
    return row;
  });
  $("user-list").tBodies[0].replaceChildren(...rows);
  const audit = await api("/api/audit?limit=50");
  $("audit").tBodies[0].replaceChildren(...audit.entries.map((entry) => {
    const row = document.createElement("tr");
    row.append(cell(when(entry.at)), cell(entry.actor ?? "—"), cell(entry.action), cell(entry.target), cell(entry.client));
    return row;
  }));

  async function change(path, method, body) {
    try {
      await api(path, { method, body: body ? JSON.stringify(body) : undefined });
      message.textContent = "Saved.";
    } catch (error) {
      message.textContent = String(error.message);
    }
    showUsers(me);
  }
}

export async function startAccount() {
  const me = await api("/api/auth/me");
  $("who").textContent = `${me.username} (${me.role})`;
  document.body.dataset.role = me.role;
  $("logout").onclick = async () => {
    await api("/api/auth/logout", { method: "POST" }).catch(() => {});
    location.assign("/login");
  };
  $("open-account").onclick = () => { $("account").showModal(); showTokens(); };
  if (me.role !== "admin") $("token-form").role.querySelector("option[value=admin]").remove();
  $("password-form").onsubmit = async (event) => {
    event.preventDefault();
    const form = event.target;
    try {
      await api("/api/auth/password", { method: "POST",
        body: JSON.stringify({ currentPassword: form.current.value, newPassword: form.fresh.value }) });
      $("account-message").textContent = "Password changed; your other sessions have ended.";
      form.reset();
    } catch (error) { $("account-message").textContent = String(error.message); }
  };
  $("token-form").onsubmit = async (event) => {
    event.preventDefault();
    const form = event.target;
    try {
      const made = await api("/api/auth/tokens", { method: "POST",
        body: JSON.stringify({ name: form.name.value, role: form.role.value }) });
      $("token-secret").textContent = `Token (shown this once): ${made.token}`;
      form.reset();
      showTokens();
    } catch (error) { $("account-message").textContent = String(error.message); }
  };
  if (me.role === "admin") {
    $("open-users").hidden = false;
    $("open-users").onclick = () => { $("users").showModal(); showUsers(me); };
    $("user-form").onsubmit = async (event) => {
      event.preventDefault();
      const form = event.target;
      try {
        await api("/api/users", { method: "POST", body: JSON.stringify({
          username: form.username.value, password: form.password.value, role: form.role.value }) });
        $("users-message").textContent = `Added ${form.username.value}.`;
        form.reset();
      } catch (error) { $("users-message").textContent = String(error.message); }
      showUsers(me);
    };
  }
  return me;
}
