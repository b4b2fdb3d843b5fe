// The analyzer's boxes drawn by the browser on a canvas over the video, as they arrive over the
// signalling socket ({"type": "detections", ...}): no server encoder, the camera's own picture
// underneath. A box shows until the next analysis replaces it, or for MAX_AGE_MS at most.
const COLOURS = { person: "#00ff00", face: "#ff00ff", motion: "#ffd000" };
const VEHICLES = new Set(["bicycle", "car", "motorcycle", "bus", "truck", "train", "boat", "airplane"]);
const ANIMALS = new Set(["bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"]);

function colourOf(label) {
  if (COLOURS[label]) return COLOURS[label];
  return VEHICLES.has(label) ? "#00b0ff" : ANIMALS.has(label) ? "#ff8000" : "#ffffff";
}
const MAX_AGE_MS = 1000;

export class Boxes {
  constructor(video) {
    this.video = video;
    this.canvas = document.createElement("canvas");
    this.canvas.className = "boxes";
    this.latest = null;
    this.clearTimer = null;
  }

  clear() {
    this.latest = null;
    this.canvas.getContext("2d").clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  draw(message) {
    this.latest = message;
    // How long after its frame was captured a box is drawn (for tests and the curious).
    this.lateness = this.lateness ?? [];
    this.lateness.push(Date.now() - message.capturedAt * 1000);
    clearTimeout(this.clearTimer);
    this.clearTimer = setTimeout(() => this.clear(), MAX_AGE_MS);
    const { clientWidth: width, clientHeight: height } = this.video;
    if (!width || !height || !message.width || !message.height) return;
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    // Exactly over the video element (its parent is positioned); style set from script is CSP-safe.
    Object.assign(this.canvas.style, {
      left: `${this.video.offsetLeft}px`, top: `${this.video.offsetTop}px`, width: `${width}px`, height: `${height}px`,
    });
    // The video is letterboxed in its element (object-fit: contain): place the boxes on the picture.
    const scale = Math.min(width / message.width, height / message.height);
    const left = (width - message.width * scale) / 2;
    const top = (height - message.height * scale) / 2;
    const context = this.canvas.getContext("2d");
    context.clearRect(0, 0, width, height);
    context.lineWidth = 3;
    const rect = (box, colour) => {
      context.strokeStyle = colour;
      context.strokeRect(left + box.x * scale, top + box.y * scale, box.w * scale, box.h * scale);
    };
    for (const box of message.motion ?? []) rect(box, COLOURS.motion);
    context.font = "bold 14px sans-serif";
    for (const found of message.objects ?? []) {
      const colour = colourOf(found.label);
      rect(found.box, colour);
      if (found.label !== "person" && found.label !== "face") {  // people and faces are told by colour
        context.fillStyle = colour;
        context.fillText(String(found.label).slice(0, 20), left + found.box.x * scale + 2, top + found.box.y * scale - 4);
      }
    }
  }
}
