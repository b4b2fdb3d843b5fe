// One camera over WebRTC: /player?camera=1[&overlay=1]. The gateway answers our offer in one round trip;
// with overlay=1 the page opens the session's signalling socket for the analyzer's boxes and draws them.
// The camera's audio comes with the picture, muted until "Sound" is clicked (browsers' autoplay rule).
import { Boxes } from "/static/boxes.js";

const params = new URLSearchParams(location.search);
const camera = Number(params.get("camera") || 1);
const overlay = params.get("overlay") === "1";
// transcode=1: the shared server encoder (with its drawn boxes) instead of the camera's own stream.
const transcode = params.get("transcode") === "1";
const status = document.getElementById("status");

function gathered(pc) {
  return new Promise((done) => {
    if (pc.iceGatheringState === "complete") return done();
    pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && done());
    setTimeout(done, 2000);
  });
}

async function start() {
  const pc = new RTCPeerConnection({ iceServers: [] });
  window.pc = pc;
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  const stream = new MediaStream();
  pc.ontrack = (e) => { stream.addTrack(e.track); document.getElementById("video").srcObject = stream; };
  pc.onconnectionstatechange = () => { status.textContent = `camera ${camera}: ${pc.connectionState}`; };
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const reply = await fetch("/api/webrtc/offer", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ camera_id: camera, sdp: pc.localDescription.sdp, type: "offer", overlay: transcode }),
  });
  const body = await reply.json();
  if (!reply.ok) { status.textContent = `error: ${JSON.stringify(body.detail)}`; return; }
  await pc.setRemoteDescription({ type: "answer", sdp: body.sdp });
  if (overlay) drawBoxes(body);
  const sound = document.getElementById("sound");
  sound.onclick = () => {
    const video = document.getElementById("video");
    video.muted = !video.muted;
    sound.setAttribute("aria-pressed", String(!video.muted));
  };
  const showSound = setInterval(async () => {
    if ((await window.audioPackets()) > 0) { sound.hidden = false; clearInterval(showSound); }
  }, 500);
}

function drawBoxes(session) {
  const video = document.getElementById("video");
  const boxes = (window.boxes = new Boxes(video));
  video.after(boxes.canvas);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/webrtc/${session.session_id}?token=${session.token}`);
  socket.onopen = () => socket.send(JSON.stringify({ type: "detections", on: true }));
  socket.onmessage = (message) => {
    const reply = JSON.parse(message.data);
    if (reply.type === "detections") boxes.draw(reply);
  };
}

// For tests and the curious: frames the browser has decoded so far.
window.framesDecoded = async () => {
  let decoded = 0;
  if (window.pc) (await window.pc.getStats()).forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "video") decoded = s.framesDecoded || 0; });
  return decoded;
};
window.audioPackets = async () => {
  let packets = 0;
  if (window.pc) (await window.pc.getStats()).forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "audio") packets = s.packetsReceived || 0; });
  return packets;
};
start().catch((e) => { status.textContent = `error: ${e}`; });
