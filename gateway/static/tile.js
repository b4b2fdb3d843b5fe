import { Boxes } from "/static/boxes.js";
import { openTimeline } from "/static/timeline.js";

// One camera tile: WebRTC through the gateway's signalling (POST /api/webrtc/stream/{id}, then the
// WebSocket), MJPEG when WebRTC has not connected in FALLBACK_MS, reconnection when it drops.
// "Detections" asks the signalling socket for the analyzer's boxes and draws them (boxes.js).
// The camera's audio comes too; tiles start muted (browsers play sound only after a click), and
// "Sound" shows once audio arrives.
const FALLBACK_MS = 5000;
const RETRY_MS = [1000, 2000, 5000, 10000];
const STALLED_CHECKS = 3;  // status checks (2 s apart) with no new frame while the camera streams

export class Tile {
  constructor(camera) {
    this.camera = camera;
    this.overlay = false;
    this.failures = 0;
    this.element = document.createElement("figure");
    this.element.className = "tile";
    this.element.dataset.camera = camera.id;
    this.element.innerHTML = `
      <video autoplay playsinline muted></video>
      <img class="mjpeg" alt="" hidden>
      <span class="note"></span>
      <div class="controls">
        <button class="sound" type="button" aria-pressed="false" title="Listen to this camera" hidden>Sound</button>
        <button class="overlay" type="button" aria-pressed="false" title="Show what the analyzer detects">Detections</button>
        <button class="recordings" type="button" title="The day's recordings, clips">Recordings</button>
      </div>
      <figcaption><span class="name"></span><span class="where"></span><span class="badge">…</span></figcaption>`;
    this.video = this.element.querySelector("video");
    this.boxes = new Boxes(this.video);
    this.video.after(this.boxes.canvas);
    this.mjpeg = this.element.querySelector("img.mjpeg");
    this.note = this.element.querySelector(".note");
    this.badge = this.element.querySelector(".badge");
    this.element.querySelector(".name").textContent = camera.name;
    this.element.querySelector(".where").textContent = `${camera.location} · ${camera.channel}`;
    this.element.querySelector("button.overlay").onclick = (e) => { e.stopPropagation(); this.toggleOverlay(); };
    this.element.querySelector("button.recordings").onclick = (e) => { e.stopPropagation(); openTimeline(camera); };
    this.sound = this.element.querySelector("button.sound");
    this.sound.onclick = (e) => { e.stopPropagation(); this.toggleSound(); };
    this.element.onclick = () => this.element.classList.toggle("big");
    this.setStatus(camera);
  }

  setStatus(camera) {
    const state = camera.status ?? "offline";
    this.badge.className = `badge ${state}`;
    this.badge.textContent = state === "streaming" && camera.fps ? `streaming · ${camera.fps.toFixed(0)} fps` : state;
    if (state === "streaming") this.checkStalled(); else this.stalled = 0;
    this.checkSound();
  }

  async checkSound() {
    // "Sound" only for a camera whose audio arrives (an RTSP camera that sends any).
    let packets = 0;
    if (this.pc) (await this.pc.getStats()).forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "audio") packets = s.packetsReceived || 0; });
    this.sound.hidden = packets === 0;
  }

  toggleSound() {
    this.video.muted = !this.video.muted;
    this.sound.setAttribute("aria-pressed", String(!this.video.muted));
  }

  async checkStalled() {
    // The camera streams but no frame arrives (the gateway restarted, its feed broke): reconnect.
    if (!this.pc || this.pc.connectionState !== "connected") return;
    const decoded = await this.framesDecoded();
    this.stalled = decoded === this.lastDecoded ? (this.stalled ?? 0) + 1 : 0;
    this.lastDecoded = decoded;
    if (this.stalled >= STALLED_CHECKS) {
      this.stalled = 0;
      console.warn(`camera ${this.camera.id}: no frames while streaming; reconnecting`);
      this.connect();
    }
  }

  toggleOverlay() {
    // The boxes are drawn here, over the camera's own picture: no new session, no server encoder.
    this.overlay = !this.overlay;
    this.element.querySelector("button.overlay").setAttribute("aria-pressed", String(this.overlay));
    this.askForBoxes();
  }

  askForBoxes() {
    if (!this.overlay) this.boxes.clear();
    if (this.socket?.readyState === 1) this.socket.send(JSON.stringify({ type: "detections", on: this.overlay }));
  }

  async framesDecoded() {
    if (!this.pc) return 0;
    let decoded = 0;
    (await this.pc.getStats()).forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "video") decoded = s.framesDecoded || 0; });
    return decoded;
  }

  close() {
    clearTimeout(this.fallbackTimer);
    clearTimeout(this.retryTimer);
    if (this.socket) { this.socket.onclose = null; this.socket.close(); }
    if (this.pc) { this.pc.onconnectionstatechange = null; this.pc.close(); }
    this.socket = this.pc = null;
  }

  async connect() {
    this.close();
    const attempt = (this.attempt = (this.attempt ?? 0) + 1);
    if (!this.usingMjpeg) this.fallbackTimer = setTimeout(() => this.useMjpeg(), FALLBACK_MS);
    try {
      const reply = await fetch(`/api/webrtc/stream/${this.camera.id}`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ overlay: false }),
      });
      if (!reply.ok) throw new Error(`stream: ${reply.status}`);
      const session = await reply.json();
      if (attempt !== this.attempt) return;  // a newer attempt took over
      const pc = (this.pc = new RTCPeerConnection({ iceServers: [] }));
      pc.addTransceiver("video", { direction: "recvonly" });
      pc.addTransceiver("audio", { direction: "recvonly" });
      const stream = new MediaStream();
      pc.ontrack = (e) => { stream.addTrack(e.track); this.video.srcObject = stream; };
      pc.onconnectionstatechange = () => this.onState(pc.connectionState);
      const socket = (this.socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${session.signaling_url}`));
      pc.onicecandidate = (e) => { if (e.candidate && socket.readyState === 1) socket.send(JSON.stringify({ type: "candidate", candidate: e.candidate.toJSON() })); };
      socket.onopen = async () => {
        await pc.setLocalDescription(await pc.createOffer());
        socket.send(JSON.stringify({ type: "offer", sdp: pc.localDescription.sdp }));
        if (this.overlay) this.askForBoxes();
      };
      socket.onmessage = async (message) => {
        const reply = JSON.parse(message.data);
        if (reply.type === "detections") { if (this.overlay) this.boxes.draw(reply); }
        else if (reply.type === "answer") await pc.setRemoteDescription({ type: "answer", sdp: reply.sdp });
        else if (reply.type === "error") console.warn(`camera ${this.camera.id}: ${reply.message}`);
      };
      socket.onclose = () => { if (this.pc === pc && pc.connectionState !== "connected") this.retry(); };
    } catch (error) {
      console.warn(`camera ${this.camera.id}: ${error}`);
      this.retry();
    }
  }

  onState(state) {
    if (state === "connected") {
      clearTimeout(this.fallbackTimer);
      this.failures = 0;
      this.usingMjpeg = false;
      this.mjpeg.hidden = true;
      this.mjpeg.removeAttribute("src");
      this.video.hidden = false;
      this.note.textContent = "";
    } else if (state === "failed" || state === "disconnected" || state === "closed") {
      this.retry();
    }
  }

  retry() {
    clearTimeout(this.retryTimer);
    const delay = RETRY_MS[Math.min(this.failures++, RETRY_MS.length - 1)];
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  useMjpeg() {
    // WebRTC did not connect in time (a firewall, a proxy): show MJPEG, and keep trying WebRTC behind it.
    if (this.usingMjpeg && !this.mjpeg.hidden) return this.retry();
    this.usingMjpeg = true;
    this.video.hidden = true;
    this.mjpeg.hidden = false;
    this.mjpeg.src = `/api/cameras/${this.camera.id}/mjpeg?fps=5&t=${Date.now()}`;
    this.note.textContent = "MJPEG fallback: WebRTC did not connect";
    this.failures = Math.max(this.failures, RETRY_MS.length - 1);
    this.retry();
  }
}
