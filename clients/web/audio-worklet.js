// streamscribe capture worklet: microphone samples at the AudioContext rate (often 48 kHz)
// -> low-pass + resample to 16 kHz -> PCM16 little-endian frames of exactly 80 ms (1280
// samples, 2560 bytes), posted to the page as transferable ArrayBuffers.
//
// Messages from the page: {type: "flush"} -> posts the last partial frame (if any) and then
// {type: "flushed"}; after that the processor drops its input.
// Messages to the page: {type: "frame", buffer: ArrayBuffer}, {type: "flushed"},
// {type: "level", rms: number} (about 10 per second, for the level meter).

const TAPS_PER_SIDE_PER_RATIO = 16; // filter half-length, in output-rate samples
const TABLE_RESOLUTION = 64; // kernel sub-sample resolution

function makeKernel(cutoff, halfTaps) {
  // Blackman-windowed sinc low-pass, sampled every 1/TABLE_RESOLUTION input samples over
  // [-halfTaps, +halfTaps]; cutoff in cycles per input sample (0..0.5).
  const n = 2 * halfTaps * TABLE_RESOLUTION + 1;
  const kernel = new Float32Array(n + 1); // +1: linear interpolation may read one past
  for (let i = 0; i < n; i++) {
    const x = i / TABLE_RESOLUTION - halfTaps;
    const sinc = x === 0 ? 1 : Math.sin(2 * Math.PI * cutoff * x) / (2 * Math.PI * cutoff * x);
    const w = 0.42 + 0.5 * Math.cos((Math.PI * x) / halfTaps) +
      0.08 * Math.cos((2 * Math.PI * x) / halfTaps);
    kernel[i] = 2 * cutoff * sinc * w;
  }
  return kernel;
}

class Pcm16Resampler extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = (options && options.processorOptions) || {};
    this.inRate = sampleRate; // global in AudioWorkletGlobalScope
    this.outRate = opts.targetRate || 16000;
    this.frameSamples = opts.frameSamples || 1280;
    this.step = this.inRate / this.outRate; // input samples per output sample
    this.passthrough = Math.abs(this.step - 1) < 1e-9;
    if (!this.passthrough) {
      const ratio = Math.max(1, this.step);
      this.halfTaps = Math.ceil(TAPS_PER_SIDE_PER_RATIO * ratio);
      // pass band up to 90% of the output Nyquist frequency
      this.kernel = makeKernel((0.5 * 0.9) / ratio, this.halfTaps);
    } else {
      this.halfTaps = 0;
    }
    // Input history: `buf` holds input samples from absolute index `bufStart`; the stream
    // starts with halfTaps zeros so the first output sample is aligned with input sample 0.
    this.buf = new Float32Array(4096);
    this.bufLen = this.halfTaps;
    this.bufStart = -this.halfTaps;
    this.nextOut = 0; // absolute input position of the next output sample
    this.frame = new Int16Array(this.frameSamples);
    this.frameLen = 0;
    this.flushed = false;
    this.levelSum = 0;
    this.levelCount = 0;
    this.port.onmessage = (event) => {
      if (event.data && event.data.type === "flush") this.flush();
    };
  }

  pushInput(samples) {
    if (this.bufLen + samples.length > this.buf.length) {
      const grown = new Float32Array(Math.max(this.buf.length * 2, this.bufLen + samples.length));
      grown.set(this.buf.subarray(0, this.bufLen));
      this.buf = grown;
    }
    this.buf.set(samples, this.bufLen);
    this.bufLen += samples.length;
  }

  emit(value) {
    const s = Math.max(-1, Math.min(1, value));
    this.frame[this.frameLen++] = Math.max(-32768, Math.min(32767, Math.round(s * 32768)));
    this.levelSum += s * s;
    this.levelCount++;
    if (this.frameLen === this.frameSamples) {
      const out = this.frame;
      this.port.postMessage({ type: "frame", buffer: out.buffer }, [out.buffer]);
      this.frame = new Int16Array(this.frameSamples);
      this.frameLen = 0;
    }
    if (this.levelCount >= this.outRate / 10) {
      this.port.postMessage({ type: "level", rms: Math.sqrt(this.levelSum / this.levelCount) });
      this.levelSum = 0;
      this.levelCount = 0;
    }
  }

  outputAt(p) {
    // one output sample at absolute input position p: sum of the taps around p
    const half = this.halfTaps;
    const k = this.kernel;
    const centre = Math.floor(p);
    let acc = 0;
    for (let j = centre - half + 1; j <= centre + half; j++) {
      const idx = j - this.bufStart;
      if (idx < 0 || idx >= this.bufLen) continue;
      const pos = (j - p + half) * TABLE_RESOLUTION;
      const i = Math.floor(pos);
      acc += this.buf[idx] * (k[i] + (k[i + 1] - k[i]) * (pos - i));
    }
    return acc;
  }

  resample(limit = Infinity) {
    const bufEnd = this.bufStart + this.bufLen;
    // an output at position p needs input samples up to floor(p) + halfTaps
    while (Math.floor(this.nextOut) + this.halfTaps < bufEnd && this.nextOut < limit) {
      this.emit(this.outputAt(this.nextOut));
      this.nextOut += this.step;
    }
    // drop input that no later output needs
    const drop = Math.floor(this.nextOut) - this.halfTaps + 1 - this.bufStart;
    if (drop > 0) {
      this.buf.copyWithin(0, drop, this.bufLen);
      this.bufLen -= drop;
      this.bufStart += drop;
    }
  }

  flush() {
    if (this.flushed) return;
    if (!this.passthrough) {
      const realEnd = this.bufStart + this.bufLen; // outputs up to the last real input sample
      this.pushInput(new Float32Array(this.halfTaps + 1)); // drain the filter with zeros
      this.resample(realEnd);
    }
    if (this.frameLen > 0) {
      const rest = this.frame.slice(0, this.frameLen);
      this.port.postMessage({ type: "frame", buffer: rest.buffer }, [rest.buffer]);
      this.frameLen = 0;
    }
    this.flushed = true;
    this.port.postMessage({ type: "flushed" });
  }

  process(inputs) {
    if (this.flushed) return true;
    const input = inputs[0];
    if (!input || input.length === 0 || !input[0]) return true;
    let mono = input[0];
    if (input.length > 1) {
      mono = new Float32Array(input[0].length);
      for (let c = 0; c < input.length; c++) {
        const ch = input[c];
        for (let i = 0; i < ch.length; i++) mono[i] += ch[i] / input.length;
      }
    }
    if (this.passthrough) {
      for (let i = 0; i < mono.length; i++) this.emit(mono[i]);
      return true;
    }
    this.pushInput(mono);
    this.resample();
    return true;
  }
}

registerProcessor("pcm16-resampler", Pcm16Resampler);
