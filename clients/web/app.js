// streamscribe browser client: microphone -> AudioWorklet (16 kHz PCM16, 80 ms frames) ->
// WebSocket /v1/realtime (vLLM-style protocol, binary audio frames) -> live transcript.
// Plain ES module, no build step.

const DELAYS_MS = [...Array.from({ length: 15 }, (_, i) => 80 * (i + 1)), 2400];
const DEFAULT_DELAY_MS = 480;
const PAUSE_NEW_LINE_S = 1.0; // a word starting this long after the previous one starts a line
const CONNECT_TIMEOUT_MS = 10000;
const DONE_TIMEOUT_MS = 30000;

const $ = (id) => document.getElementById(id);
const ui = {
  start: $("start"),
  stop: $("stop"),
  clear: $("clear"),
  delay: $("delay"),
  apiKey: $("api-key"),
  status: $("status"),
  error: $("error"),
  transcript: $("transcript"),
  level: $("level"),
  sent: $("sent"),
  server: $("server"),
};

// State visible to tests and to curious people in the console.
const debug = {
  state: "idle",
  doneText: null,
  deltaText: "",
  words: [],
  framesSent: 0,
  bytesSent: 0,
  errors: [],
  sampleRate: null,
  recorded: null, // with ?record=1: every PCM16 frame sent, for tests
};
debug.recordedBase64 = () => {
  const chunks = debug.recorded || [];
  const total = chunks.reduce((n, c) => n + c.byteLength, 0);
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(new Uint8Array(c), offset);
    offset += c.byteLength;
  }
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
};
window.streamscribe = debug;

function serverUrl() {
  const params = new URLSearchParams(location.search);
  const override = params.get("ws");
  const base = override || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/realtime`;
  const url = new URL(base, location.href);
  const key = ui.apiKey.value.trim();
  if (key) url.searchParams.set("api_key", key); // browsers cannot set an Authorization header
  return url;
}

function setState(state, message) {
  debug.state = state;
  document.body.dataset.state = state;
  if (message !== undefined) ui.status.textContent = message;
  const busy = state === "connecting" || state === "recording" || state === "finishing";
  ui.start.disabled = busy;
  ui.stop.disabled = !(state === "recording" || state === "connecting");
  ui.delay.disabled = busy;
  ui.apiKey.disabled = busy;
}

function showError(message) {
  debug.errors.push(message);
  ui.error.textContent = message;
  ui.error.hidden = false;
}

function clearError() {
  ui.error.textContent = "";
  ui.error.hidden = true;
}

// ---------------------------------------------------------------------------------------
// Transcript rendering: the text of a run is exactly the concatenated deltas (and, at the
// end, exactly the server's `transcription.done` text); words whose timing is known become
// <span class="word" title="start–end s">, the rest is a pending tail.

class TranscriptRun {
  constructor(container) {
    this.el = document.createElement("p");
    this.el.className = "run live";
    container.appendChild(this.el);
    this.text = "";
    this.pos = 0; // chars of this.text rendered as words / gaps
    this.lastEnd = null;
    this.words = [];
    this.pending = document.createElement("span");
    this.pending.className = "pending";
    this.el.appendChild(this.pending);
  }

  addDelta(delta, words) {
    this.text += delta;
    for (const w of words || []) this.placeWord(w);
    this.pending.textContent = this.text.slice(this.pos);
    this.el.scrollIntoView({ block: "end", behavior: "auto" });
  }

  placeWord(w) {
    const idx = this.text.indexOf(w.text, this.pos);
    if (idx < 0) return; // not in the text we have: ignore (cannot place it)
    if (idx > this.pos) this.el.insertBefore(this.gapNode(this.text.slice(this.pos, idx)), this.pending);
    this.el.insertBefore(this.wordSpan(w), this.pending);
    this.pos = idx + w.text.length;
    this.words.push(w);
  }

  gapNode(gap) {
    if (this.pos > 0 || gap.trim()) return document.createTextNode(gap);
    const lead = document.createElement("span"); // the first word's leading space: kept in
    lead.className = "lead"; // the text (it is the server's), not shown
    lead.textContent = gap;
    return lead;
  }

  wordSpan(w) {
    const span = document.createElement("span");
    span.className = "word";
    span.textContent = w.text;
    span.dataset.start = String(w.start);
    span.dataset.end = String(w.end);
    span.title = `${w.start.toFixed(2)}–${w.end.toFixed(2)} s`;
    span.dataset.time = span.title; // the CSS tooltip
    if (this.lastEnd !== null && w.start - this.lastEnd > PAUSE_NEW_LINE_S) span.classList.add("new-line");
    this.lastEnd = w.end;
    return span;
  }

  finish(text, words) {
    // re-render from the final text so the page shows exactly what the server decided
    this.el.replaceChildren();
    this.text = text;
    this.pos = 0;
    this.lastEnd = null;
    this.words = [];
    this.pending = document.createElement("span");
    this.pending.className = "pending";
    this.el.appendChild(this.pending);
    for (const w of words) this.placeWord(w);
    if (this.pos < text.length) this.el.insertBefore(document.createTextNode(text.slice(this.pos)), this.pending);
    this.pending.remove();
    this.el.classList.remove("live");
    this.el.classList.add("final");
  }
}

// ---------------------------------------------------------------------------------------
// One recording session.

let session = null;

class Session {
  constructor(delayMs) {
    this.delayMs = delayMs;
    this.ws = null;
    this.stream = null;
    this.ctx = null;
    this.node = null;
    this.run = null;
    this.words = [];
    this.ended = false;
    this.finishing = false;
    this.doneTimer = null;
  }

  async start() {
    clearError();
    debug.doneText = null;
    debug.deltaText = "";
    debug.words = [];
    debug.framesSent = 0;
    debug.bytesSent = 0;
    debug.recorded = new URLSearchParams(location.search).has("record") ? [] : null;
    setState("connecting", "Asking for the microphone…");
    try {
      this.stream = await getMicrophone();
    } catch (err) {
      this.fail(err.message, "no-microphone");
      return;
    }
    if (this.ended) return this.cleanup(); // stopped while asking
    setState("connecting", "Connecting to the server…");
    try {
      await this.connect();
    } catch (err) {
      this.fail(err.message);
      return;
    }
    if (this.ended) return this.cleanup();
    try {
      await this.startAudio();
    } catch (err) {
      this.fail(`Cannot start audio capture: ${err.message || err}`);
      return;
    }
    if (this.ended) return this.cleanup();
    this.run = new TranscriptRun(ui.transcript);
    setState("recording", `Listening (${debug.sampleRate} Hz → 16 kHz, delay ${this.delayMs} ms)…`);
  }

  connect() {
    const url = serverUrl();
    ui.server.textContent = url.origin.replace(/^http/, "ws") + url.pathname;
    return new Promise((resolve, reject) => {
      let settled = false;
      const ws = new WebSocket(url);
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        ws.close();
        reject(new Error(`The server at ${url.host} did not answer within ${CONNECT_TIMEOUT_MS / 1000} s.`));
      }, CONNECT_TIMEOUT_MS);
      ws.onmessage = (event) => {
        let msg;
        try {
          msg = JSON.parse(event.data);
        } catch {
          return;
        }
        if (!settled) {
          if (msg.type === "session.created") {
            settled = true;
            clearTimeout(timer);
            ws.send(JSON.stringify({ type: "session.update", target_streaming_delay_ms: this.delayMs }));
            resolve();
          } else if (msg.type === "error") {
            settled = true;
            clearTimeout(timer);
            reject(new Error(`Server error${msg.code ? ` (${msg.code})` : ""}: ${msg.error}`));
          }
          return;
        }
        this.onServerEvent(msg);
      };
      ws.onclose = (event) => {
        clearTimeout(timer);
        if (!settled) {
          settled = true;
          reject(new Error(connectFailure(url, event)));
          return;
        }
        this.onSocketClosed(event);
      };
    });
  }

  async startAudio() {
    // The browser picks its own rate (often 48 kHz); the worklet resamples to 16 kHz.
    this.ctx = new AudioContext({ latencyHint: "interactive" });
    debug.sampleRate = this.ctx.sampleRate;
    await this.ctx.audioWorklet.addModule(new URL("audio-worklet.js", import.meta.url));
    const source = this.ctx.createMediaStreamSource(this.stream);
    this.node = new AudioWorkletNode(this.ctx, "pcm16-resampler", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { targetRate: 16000, frameSamples: 1280 },
    });
    this.node.port.onmessage = (event) => this.onWorkletMessage(event.data);
    const mute = this.ctx.createGain(); // keep the graph pulled without playing anything
    mute.gain.value = 0;
    source.connect(this.node).connect(mute).connect(this.ctx.destination);
    if (this.ctx.state === "suspended") await this.ctx.resume();
  }

  onWorkletMessage(msg) {
    if (msg.type === "frame") {
      if (this.ws && this.ws.readyState === WebSocket.OPEN && !this.ended) {
        this.ws.send(msg.buffer);
        if (debug.recorded) debug.recorded.push(msg.buffer);
        debug.framesSent += 1;
        debug.bytesSent += msg.buffer.byteLength;
        ui.sent.textContent = `${(debug.bytesSent / 32000).toFixed(1)} s sent`;
      }
    } else if (msg.type === "level") {
      ui.level.value = Math.min(1, msg.rms * 4);
    } else if (msg.type === "flushed") {
      this.sendFinalCommit();
    }
  }

  stop() {
    if (this.finishing || this.ended) return;
    this.finishing = true;
    setState("finishing", "Finishing: waiting for the last words…");
    this.stopMicrophone();
    if (this.node) {
      this.node.port.postMessage({ type: "flush" }); // the worklet answers "flushed"
    } else {
      this.sendFinalCommit();
    }
    this.doneTimer = setTimeout(() => {
      this.fail(`The server sent no final transcript within ${DONE_TIMEOUT_MS / 1000} s.`);
    }, DONE_TIMEOUT_MS);
  }

  sendFinalCommit() {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type: "input_audio_buffer.commit", final: true }));
    }
    this.closeAudio();
  }

  onServerEvent(msg) {
    switch (msg.type) {
      case "transcription.delta": {
        const words = Array.isArray(msg.words) ? msg.words : [];
        debug.deltaText += msg.delta || "";
        debug.words.push(...words);
        if (this.run) this.run.addDelta(msg.delta || "", words);
        break;
      }
      case "transcription.done": {
        const words = Array.isArray(msg.words) && msg.words.length ? msg.words : debug.words;
        debug.doneText = msg.text || "";
        if (this.run) this.run.finish(msg.text || "", words);
        this.ended = true;
        clearTimeout(this.doneTimer);
        this.cleanup();
        const n = `${words.length} word${words.length === 1 ? "" : "s"}`;
        setState("done", `Done: ${n}. Hover a word for its timing; Start to go again.`);
        break;
      }
      case "error": {
        const text = `Server error${msg.code ? ` (${msg.code})` : ""}: ${msg.error}`;
        showError(text);
        break;
      }
      default:
        break; // session.created / session.updated / unknown: nothing to show
    }
  }

  onSocketClosed(event) {
    if (this.ended) return;
    const reason = event.reason ? `: ${event.reason}` : "";
    this.fail(`Connection to the server was lost (code ${event.code}${reason}). ` +
      "Is the server still running? Press Start to reconnect.", "disconnected");
  }

  fail(message, state = "error") {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.doneTimer);
    showError(message);
    if (this.run) this.run.el.classList.remove("live");
    this.cleanup();
    setState(state === "no-microphone" || state === "disconnected" ? "error" : state, "Stopped.");
    document.body.dataset.error = state;
  }

  stopMicrophone() {
    if (this.stream) {
      for (const track of this.stream.getTracks()) track.stop();
      this.stream = null;
    }
  }

  closeAudio() {
    if (this.ctx) {
      const ctx = this.ctx;
      this.ctx = null;
      this.node = null;
      ctx.close().catch(() => {});
    }
    ui.level.value = 0;
  }

  cleanup() {
    this.stopMicrophone();
    this.closeAudio();
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = null;
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
    }
    if (session === this) session = null;
  }
}

function connectFailure(url, event) {
  const reason = event.reason ? `: ${event.reason}` : "";
  if (event.code === 1008 || /auth|key/i.test(event.reason || "")) {
    return `The server refused the connection${reason}. Check the API key.`;
  }
  return `Cannot reach the server at ${url.host} (socket closed, code ${event.code}${reason}). ` +
    "Is `streamscribe serve` running?";
}

async function getMicrophone() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error("This page cannot use the microphone here: open it over https:// " +
      "or http://localhost (browsers only allow microphones in secure contexts).");
  }
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      video: false,
    });
  } catch (err) {
    const name = err && err.name;
    if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
      throw new Error("Microphone permission was denied. Allow microphone access for this " +
        "site (the icon in the address bar) and press Start again.");
    }
    if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") {
      throw new Error("No microphone was found. Connect one and press Start again.");
    }
    if (name === "NotReadableError" || name === "TrackStartError") {
      throw new Error("The microphone cannot be read: another application may be using it.");
    }
    throw new Error(`Cannot open the microphone: ${(err && err.message) || err}`);
  }
}

// ---------------------------------------------------------------------------------------

function init() {
  for (const ms of DELAYS_MS) {
    const opt = document.createElement("option");
    opt.value = String(ms);
    opt.textContent = `${ms} ms`;
    if (ms === DEFAULT_DELAY_MS) opt.selected = true;
    ui.delay.appendChild(opt);
  }
  const params = new URLSearchParams(location.search);
  if (params.get("delay") && DELAYS_MS.includes(Number(params.get("delay")))) ui.delay.value = params.get("delay");
  ui.server.textContent = serverUrl().toString().replace(/api_key=[^&]*/, "api_key=…");
  $("controls").addEventListener("submit", (event) => event.preventDefault()); // Enter key
  ui.start.addEventListener("click", () => {
    if (session) return;
    delete document.body.dataset.error;
    session = new Session(Number(ui.delay.value));
    session.start();
  });
  ui.stop.addEventListener("click", () => {
    if (!session) return;
    if (debug.state === "connecting") session.fail("Stopped before the session started.", "error");
    else session.stop();
  });
  ui.clear.addEventListener("click", () => {
    ui.transcript.replaceChildren();
    clearError();
  });
  setState("idle", "Press Start and speak.");
}

init();
