// The login page: posts the form to /api/auth/login (which sets the session cookie) and goes on
// to where the visitor was sent from. Only same-site paths are followed, never another site.
const form = document.getElementById("login");
const message = document.getElementById("message");

function nextPath() {
  // Read as the browser will read it (tabs and newlines dropped, "\\" as "/"), and kept only when
  // it stays on this origin: "/\t/evil.example" passes a check of its text and leaves the site.
  const next = new URLSearchParams(location.search).get("next") || "/";
  if (!next.startsWith("/")) return "/";
  try {
    const target = new URL(next, location.origin);
    const path = target.pathname.replace(/^\/+/, "/"); // "//x" would leave for host x
    return target.origin === location.origin ? path + target.search + target.hash : "/";
  } catch {
    return "/";
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  message.textContent = "";
  const body = { username: form.username.value, password: form.password.value };
  try {
    const reply = await fetch("/api/auth/login", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    if (reply.ok) { location.assign(nextPath()); return; }
    const answer = await reply.json().catch(() => ({}));
    message.textContent = typeof answer.detail === "string" ? answer.detail : `login failed (${reply.status})`;
  } catch (error) {
    message.textContent = `the gateway does not answer (${error})`;
  }
});
