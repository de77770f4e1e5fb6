// musicrnn studio: the page's script. Talks only to the server that served
// it (see musicrnn/web/server.py for the API); no library, no network.
'use strict';

const NOTE_NAMES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];
const KEYBOARD_LOW = 60;        // C4
const KEYBOARD_KEYS = 25;       // two octaves and the top C
const KEYBOARD_NOTE_SECONDS = 0.5;

const state = {
  models: [],
  model: null,            // the chosen model's description
  action: null,
  primer: null,           // {source, id, name, view} or {source: 'notes'}
  inputs: [null, null],   // interpolation ends: upload views
  outputs: [],            // [{view, status: 'new' | 'kept'}]
  history: [],            // snapshots for Undo
  playing: null,          // the output id being played
  frame: null,            // the playhead's animation frame
  maxUploadBytes: Infinity,
  busy: false,
};

const $ = (id) => document.getElementById(id);

function pitchName(pitch) {
  return NOTE_NAMES[pitch % 12] + (Math.floor(pitch / 12) - 1);
}

function parsePitch(word) {
  if (/^\d+$/.test(word)) return Number(word);
  const m = /^([A-Ga-g])([#b]?)(-?\d)$/.exec(word);
  if (!m) return null;
  let pc = NOTE_NAMES.indexOf(m[1].toUpperCase());
  if (m[2] === '#') pc += 1;
  if (m[2] === 'b') pc -= 1;
  return (Number(m[3]) + 1) * 12 + pc;
}

// ----------------------------------------------------------------- server

async function api(path, options) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (e) {
    throw new Error('The studio server does not answer: is musicrnn_studio still running?');
  }
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    throw new Error(`The server answered ${response.status} without a message.`);
  }
  if (!response.ok) throw new Error(body.error || `The server answered ${response.status}.`);
  return body;
}

function showError(text) {
  $('error').textContent = text || '';
}

function setStatus(text) {
  $('status').textContent = text || '';
  $('status').classList.toggle('busy', Boolean(text) && state.busy);
}

// ----------------------------------------------------------------- models

async function loadModels() {
  const body = await api('/api/models');
  state.models = body.models;
  state.maxUploadBytes = body.max_upload_bytes;
  const select = $('model');
  select.innerHTML = '';
  for (const model of state.models) {
    const option = document.createElement('option');
    option.value = model.id;
    option.textContent = `${model.label} (${model.family})`;
    select.appendChild(option);
  }
  chooseModel(state.models[0].id);
}

function chooseModel(id) {
  state.model = state.models.find((m) => m.id === id);
  const model = state.model;
  $('model-info').textContent = `config ${model.config}, task ${model.task}`;
  for (const button of document.querySelectorAll('#actions button')) {
    button.hidden = !model.actions.includes(button.dataset.action);
  }
  const unit = $('length-unit');
  unit.innerHTML = '';
  for (const name of model.length_units) {
    const option = document.createElement('option');
    option.value = option.textContent = name;
    unit.appendChild(option);
  }
  // Seconds: 20 of them; bars or steps: the model's own default (empty).
  $('length').value = model.length_units[0] === 'seconds' ? 20 : '';
  $('length').placeholder = 'model default';
  renderFields(model.fields);
  setAction(model.actions.includes(state.action) ? state.action : model.actions[0]);
  renderOutputs();
}

function renderFields(fields) {
  const box = $('fields');
  box.innerHTML = '';
  for (const field of fields) {
    const label = document.createElement('label');
    label.title = field.help;
    label.appendChild(document.createTextNode(field.label + ' '));
    let input;
    if (field.kind === 'choice') {
      input = document.createElement('select');
      for (const choice of field.choices) {
        const option = document.createElement('option');
        option.value = choice;
        option.textContent = choice || '(default)';
        input.appendChild(option);
      }
    } else if (field.kind === 'bool') {
      input = document.createElement('input');
      input.type = 'checkbox';
      input.checked = Boolean(field.default);
    } else {
      input = document.createElement('input');
      input.type = field.kind === 'text' ? 'text' : 'number';
      if (field.minimum !== null) input.min = field.minimum;
      if (field.maximum !== null) input.max = field.maximum;
      if (field.step !== null) input.step = field.step;
    }
    input.dataset.option = field.name;
    input.id = 'option-' + field.name;
    if (field.default !== null && field.default !== undefined
        && field.kind !== 'choice' && field.kind !== 'bool') {
      input.value = field.default;
    }
    if (field.default === null) input.placeholder = 'default';
    label.appendChild(input);
    const help = document.createElement('small');
    help.textContent = field.help;
    label.appendChild(help);
    box.appendChild(label);
  }
}

function setAction(action) {
  state.action = action;
  for (const button of document.querySelectorAll('#actions button')) {
    button.setAttribute('aria-selected', String(button.dataset.action === action));
  }
  $('primer-panel').hidden = action !== 'continue';
  $('interpolate-panel').hidden = action !== 'interpolate';
  $('length-label').hidden = action === 'interpolate';
  $('num-outputs-label').textContent = action === 'interpolate' ? 'Steps' : 'Variations';
  if (action === 'interpolate' && Number($('num-outputs').value) < 2) $('num-outputs').value = 5;
  $('go').textContent = {continue: 'Continue', generate: 'Generate',
                         interpolate: 'Interpolate'}[action];
}

// ----------------------------------------------------------------- primer

function buildKeyboard() {
  const box = $('keyboard');
  for (let i = 0; i < KEYBOARD_KEYS; i++) {
    const pitch = KEYBOARD_LOW + i;
    const key = document.createElement('button');
    key.type = 'button';
    key.className = NOTE_NAMES[pitch % 12].includes('#') ? 'key black' : 'key white';
    key.dataset.pitch = pitch;
    key.title = pitchName(pitch);
    key.setAttribute('aria-label', pitchName(pitch));
    key.addEventListener('click', () => {
      beep(pitch);
      const list = $('note-list');
      list.value = (list.value.trim() + ' ' + pitchName(pitch)).trim();
      notesChanged();
    });
    box.appendChild(key);
  }
}

let audioContext = null;
function beep(pitch) {
  // A short tone from the page itself, so the keyboard answers at once.
  try {
    audioContext = audioContext || new AudioContext();
    const oscillator = audioContext.createOscillator();
    const gain = audioContext.createGain();
    oscillator.type = 'triangle';
    oscillator.frequency.value = 440 * Math.pow(2, (pitch - 69) / 12);
    gain.gain.setValueAtTime(0.2, audioContext.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audioContext.currentTime + 0.4);
    oscillator.connect(gain).connect(audioContext.destination);
    oscillator.start();
    oscillator.stop(audioContext.currentTime + 0.4);
  } catch (e) { /* no audio: the note is still added */ }
}

function typedNotes() {
  const words = $('note-list').value.trim().split(/[\s,]+/).filter(Boolean);
  const notes = [];
  for (const word of words) {
    const pitch = parsePitch(word);
    if (pitch === null || pitch < 0 || pitch > 127) {
      throw new Error(`"${word}" is not a note: write names like C4, F#3 or Bb4, or MIDI numbers.`);
    }
    const start = notes.length * KEYBOARD_NOTE_SECONDS;
    notes.push([pitch, start, start + KEYBOARD_NOTE_SECONDS]);
  }
  return notes;
}

function notesChanged() {
  showError('');
  let notes;
  try {
    notes = typedNotes();
  } catch (e) {
    showError(e.message);
    return;
  }
  if (!notes.length) {
    if (state.primer && state.primer.source === 'notes') setPrimer(null);
    return;
  }
  const view = {notes: notes.map((n) => [n[0], n[1], n[2], 80, 0]),
                seconds: notes[notes.length - 1][2], primer_seconds: 0,
                qpm: 120, time_signature: [4, 4]};
  setPrimer({source: 'notes', name: `${notes.length} notes played`, view,
             notes, text: $('note-list').value});
}

function setPrimer(primer) {
  state.primer = primer;
  $('primer-name').textContent = primer ? `Primer: ${primer.name}, ${primer.view.seconds.toFixed(1)} s`
      : 'No primer yet.';
  $('keep-seconds').value = primer ? Number(primer.view.seconds.toFixed(2)) : '';
  drawRoll($('primer-roll'), primer ? primer.view : null, null);
}

async function upload(file) {
  if (file.size > state.maxUploadBytes) {
    throw new Error(`${file.name} is ${(file.size / 1e6).toFixed(1)} MB; the studio takes ` +
                    `files up to ${(state.maxUploadBytes / 1e6).toFixed(1)} MB`);
  }
  const body = await api('/api/upload', {
    method: 'POST', headers: {'X-Filename': encodeURIComponent(file.name)}, body: file});
  return body;
}

async function primerFileChosen(event) {
  const file = event.target.files[0];
  if (!file) return;
  showError('');
  try {
    const view = await upload(file);
    $('note-list').value = '';
    setPrimer({source: 'upload', id: view.id, name: file.name, view});
  } catch (e) {
    showError(e.message);
    event.target.value = '';
  }
}

async function inputFileChosen(index, event) {
  const file = event.target.files[0];
  if (!file) return;
  showError('');
  try {
    state.inputs[index] = await upload(file);
    state.inputs[index].file = file.name;
  } catch (e) {
    state.inputs[index] = null;
    showError(e.message);
    event.target.value = '';
  }
  $('inputs-name').textContent = state.inputs.map(
      (v, i) => v ? `${i ? 'end' : 'start'}: ${v.file}, ${v.seconds.toFixed(1)} s` : '').filter(Boolean).join('; ');
}

// ------------------------------------------------------------- generation

function request() {
  const options = {};
  for (const input of document.querySelectorAll('#fields [data-option]')) {
    if (input.type === 'checkbox') options[input.dataset.option] = input.checked;
    else if (input.value !== '') options[input.dataset.option] = input.value;
  }
  const body = {model: state.model.id, action: state.action, options,
                num_outputs: Number($('num-outputs').value),
                seed: $('seed').value === '' ? null : Number($('seed').value),
                length: $('length').value === '' ? null
                    : {unit: $('length-unit').value, value: Number($('length').value)},
                ticket: Math.random().toString(36).slice(2)};
  if (state.action === 'continue') {
    if (!state.primer) throw new Error('Choose a primer first: upload a MIDI file or play some notes.');
    body.primer = state.primer.source === 'notes'
        ? {source: 'notes', notes: state.primer.notes}
        : {source: state.primer.source, id: state.primer.id};
    body.primer.keep_seconds = $('keep-seconds').value === '' ? null : Number($('keep-seconds').value);
  }
  if (state.action === 'interpolate') {
    if (!state.inputs[0] || !state.inputs[1]) throw new Error('Choose the two MIDI files to interpolate between.');
    body.inputs = [state.inputs[0].id, state.inputs[1].id];
  }
  return body;
}

async function go() {
  if (state.busy) return;
  showError('');
  let body;
  try {
    body = request();
  } catch (e) {
    showError(e.message);
    return;
  }
  state.busy = true;
  $('go').disabled = true;
  const started = performance.now();
  const tick = async () => {
    if (!state.busy) return;
    let phase = 'working';
    try {
      const p = (await api('/api/progress?ticket=' + body.ticket)).progress;
      if (p) phase = p.phase;
    } catch (e) { /* the answer comes with the result */ }
    if (state.busy) setStatus(`${phase}… ${((performance.now() - started) / 1000).toFixed(0)} s`);
  };
  setStatus('sending…');
  const timer = setInterval(tick, 500);
  try {
    const result = await api('/api/generate', {
      method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
    snapshot();
    state.outputs = state.outputs.filter((o) => o.status === 'kept').concat(
        result.outputs.map((view) => ({view: {...view, server_seconds: result.seconds},
                                       status: 'new'})));
    state.busy = false;
    setStatus(`${result.outputs.length} output${result.outputs.length > 1 ? 's' : ''} in ${result.seconds.toFixed(1)} s` +
              `${result.first_call ? ' (first call: the model was loaded and compiled)' : ''}, seed ${result.seed}`);
    $('seed').placeholder = `random (last: ${result.seed})`;
    renderOutputs();
  } catch (e) {
    state.busy = false;
    setStatus('');
    showError(e.message);
  } finally {
    clearInterval(timer);
    $('go').disabled = false;
  }
}

// ---------------------------------------------------- outputs and history

function snapshot() {
  state.history.push({outputs: state.outputs.map((o) => ({...o})), primer: state.primer,
                      action: state.action, keep: $('keep-seconds').value});
  $('undo').disabled = false;
}

function undo() {
  const last = state.history.pop();
  if (!last) return;
  stop();
  state.outputs = last.outputs;
  if (last.primer !== state.primer) {
    setPrimer(last.primer);
    $('note-list').value = last.primer && last.primer.source === 'notes' ? last.primer.text : '';
  }
  $('keep-seconds').value = last.keep;
  setAction(last.action);
  $('undo').disabled = state.history.length === 0;
  renderOutputs();
}

function keep(id) {
  snapshot();
  for (const o of state.outputs) if (o.view.id === id) o.status = 'kept';
  renderOutputs();
}

function discard(id) {
  snapshot();
  if (state.playing === id) stop();
  state.outputs = state.outputs.filter((o) => o.view.id !== id);
  renderOutputs();
}

function continueFrom(id) {
  const output = state.outputs.find((o) => o.view.id === id);
  snapshot();
  output.status = 'kept';
  $('note-list').value = '';
  setPrimer({source: 'output', id, name: output.view.name, view: output.view});
  setAction('continue');
  renderOutputs();
  $('primer-panel').scrollIntoView({block: 'nearest'});
}

function renderOutputs() {
  const box = $('outputs');
  box.innerHTML = '';
  if (!state.outputs.length) {
    box.innerHTML = '<p class="muted" id="no-outputs">Nothing yet: choose a primer (or none) and press the button.</p>';
    return;
  }
  state.outputs.forEach((output, index) => {
    const view = output.view;
    const card = document.createElement('article');
    card.className = 'output ' + output.status;
    card.dataset.id = view.id;
    const title = document.createElement('h3');
    title.textContent = `${index + 1}. ${view.name} — ${view.notes.length} notes, ${view.seconds.toFixed(1)} s` +
        (output.status === 'kept' ? ' (kept)' : '');
    card.appendChild(title);
    const canvas = document.createElement('canvas');
    canvas.width = 860;
    canvas.height = 200;
    canvas.className = 'roll';
    card.appendChild(canvas);
    const buttons = document.createElement('div');
    buttons.className = 'buttons';
    const button = (label, cls, handler) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.className = cls;
      b.addEventListener('click', handler);
      buttons.appendChild(b);
      return b;
    };
    button(state.playing === view.id ? 'Stop' : 'Play', 'play', () => togglePlay(view.id));
    if (output.status !== 'kept') button('Keep', 'keep', () => keep(view.id));
    button('Discard', 'discard', () => discard(view.id));
    if (state.model.actions.includes('continue')) {
      button('Continue from this', 'continue-from', () => continueFrom(view.id));
    }
    for (const [label, url, ext] of [['MIDI', view.midi_url, 'mid'], ['WAV', view.wav_url, 'wav']]) {
      const a = document.createElement('a');
      a.href = url;
      a.download = `${view.name}.${ext}`;
      a.className = 'download download-' + ext;
      a.textContent = 'Download ' + label;
      buttons.appendChild(a);
    }
    card.appendChild(buttons);
    box.appendChild(card);
    drawRoll(canvas, view, null);
  });
}

// --------------------------------------------------------------- playback

function togglePlay(id) {
  if (state.playing === id) {
    stop();
    return;
  }
  const output = state.outputs.find((o) => o.view.id === id);
  const player = $('player');
  stop();
  state.playing = id;
  setStatus('rendering the sound…');
  player.src = output.view.wav_url;
  player.play().then(() => {
    setStatus(`playing ${output.view.name}`);
  }).catch(async (e) => {
    if (state.playing !== id) return;
    let reason = e.message;
    try {   // the server's sentence, where it refused the sound
      const response = await fetch(output.view.wav_url);
      if (!response.ok) reason = (await response.json()).error;
    } catch (ignored) { /* keep the browser's reason */ }
    setStatus('');
    showError(`Playback did not start: ${reason}`);
    stop();
  });
  renderOutputs();
  state.frame = requestAnimationFrame(drawPlayhead);
}

function stop() {
  const player = $('player');
  player.pause();
  cancelAnimationFrame(state.frame);
  const was = state.playing;
  state.playing = null;
  if (was) renderOutputs();
}

function drawPlayhead() {
  if (!state.playing) return;
  const output = state.outputs.find((o) => o.view.id === state.playing);
  const card = document.querySelector(`article[data-id="${state.playing}"] canvas`);
  if (output && card) drawRoll(card, output.view, $('player').currentTime);
  state.frame = requestAnimationFrame(drawPlayhead);
}

// -------------------------------------------------------------- piano roll

function velocityColour(velocity, drum) {
  if (drum) return `hsl(30, 90%, ${65 - velocity / 4}%)`;
  // Quiet notes blue, loud ones red.
  return `hsl(${230 - (velocity / 127) * 230}, 75%, 50%)`;
}

function drawRoll(canvas, view, playhead) {
  // Drawn at the size it shows (and the screen's pixel density), so that
  // the labels keep their size on the small primer roll and a wide window.
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  const density = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * density)
      || canvas.height !== Math.round(height * density)) {
    canvas.width = Math.round(width * density);
    canvas.height = Math.round(height * density);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(density, 0, 0, density, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = '#fbfbfd';
  ctx.fillRect(0, 0, width, height);
  if (!view || !view.notes.length) return;
  const left = 38, bottom = 18, top = 4;
  let low = 127, high = 0;
  for (const n of view.notes) { low = Math.min(low, n[0]); high = Math.max(high, n[0]); }
  // At least two octaves, so a melody's steps look like steps.
  const spread = Math.max(0, 24 - (high - low)) / 2;
  low = Math.max(0, Math.floor(low - 2 - spread));
  high = Math.min(127, Math.ceil(high + 2 + spread));
  const rows = high - low + 1;
  const rowHeight = (height - bottom - top) / rows;
  const seconds = Math.max(view.seconds, 0.5);
  const x = (t) => left + (t / seconds) * (width - left - 24);
  const y = (pitch) => top + (high - pitch) * rowHeight;
  // The primer, shaded and labelled.
  if (view.primer_seconds > 0) {
    ctx.fillStyle = '#e4e7ee';
    ctx.fillRect(left, top, x(view.primer_seconds) - left, height - bottom - top);
    ctx.fillStyle = '#667';
    ctx.font = '11px sans-serif';
    ctx.fillText('primer', left + 3, top + 11);
  }
  // Pitch labels: every key where there is room, else the Cs that fit.
  ctx.font = '10px sans-serif';
  const octaves = Math.max(1, Math.ceil(11 / (12 * rowHeight)));
  for (let p = low; p <= high; p++) {
    const isC = p % 12 === 0 && (p / 12) % octaves === 0;
    if (p % 12 === 0) {
      ctx.strokeStyle = '#d8dbe3';
      ctx.beginPath();
      ctx.moveTo(left, y(p) + rowHeight);
      ctx.lineTo(width, y(p) + rowHeight);
      ctx.stroke();
    }
    if (isC || rowHeight >= 11) {
      ctx.fillStyle = isC ? '#333' : '#888';
      ctx.fillText(pitchName(p), 2, y(p) + Math.min(rowHeight, 10));
    }
  }
  // Time axis: seconds, or bars of the music's meter.
  // Labels at least 44 pixels apart.
  const axis = $('time-axis').value;
  const perSecond = (width - left - 24) / seconds;
  ctx.fillStyle = '#555';
  ctx.strokeStyle = '#c8ccd6';
  if (axis === 'bars') {
    const [num, den] = view.time_signature;
    const bar = (60 / view.qpm) * 4 * num / den;
    const every = [1, 2, 4, 8, 16, 32, 64, 128].find((n) => n * bar * perSecond >= 44) || 256;
    for (let b = 0; b * bar <= seconds + 1e-6; b += every) {
      ctx.beginPath(); ctx.moveTo(x(b * bar), top); ctx.lineTo(x(b * bar), height - bottom); ctx.stroke();
      ctx.fillText(`bar ${b + 1}`, x(b * bar) + 2, height - 5);
    }
  } else {
    const every = [1, 2, 5, 10, 15, 30, 60, 120].find((n) => n * perSecond >= 44) || 300;
    for (let s = 0; s <= seconds + 1e-6; s += every) {
      ctx.beginPath(); ctx.moveTo(x(s), top); ctx.lineTo(x(s), height - bottom); ctx.stroke();
      ctx.fillText(`${s} s`, x(s) + 2, height - 5);
    }
  }
  for (const [pitch, start, end, velocity, drum] of view.notes) {
    ctx.fillStyle = velocityColour(velocity, drum);
    const w = drum ? Math.max(3, rowHeight) : Math.max(2, x(end) - x(start));
    ctx.fillRect(x(start), y(pitch) + 0.5, w, Math.max(1.5, rowHeight - 1));
  }
  if (playhead !== null && playhead !== undefined) {
    ctx.strokeStyle = '#d0103a';
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x(playhead), top);
    ctx.lineTo(x(playhead), height - bottom);
    ctx.stroke();
    ctx.lineWidth = 1;
  }
}

// ------------------------------------------------------------------ start

function start() {
  buildKeyboard();
  $('model').addEventListener('change', (e) => { stop(); chooseModel(e.target.value); });
  for (const button of document.querySelectorAll('#actions button')) {
    button.addEventListener('click', () => setAction(button.dataset.action));
  }
  $('primer-file').addEventListener('change', primerFileChosen);
  $('input-1').addEventListener('change', (e) => inputFileChosen(0, e));
  $('input-2').addEventListener('change', (e) => inputFileChosen(1, e));
  $('note-list').addEventListener('change', notesChanged);
  $('clear-notes').addEventListener('click', () => { $('note-list').value = ''; notesChanged(); });
  $('go').addEventListener('click', go);
  $('undo').addEventListener('click', undo);
  const redraw = () => {
    renderOutputs();
    drawRoll($('primer-roll'), state.primer ? state.primer.view : null, null);
  };
  $('time-axis').addEventListener('change', redraw);
  let resizing = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(redraw, 150);
  });
  $('player').addEventListener('ended', () => { stop(); setStatus(''); });
  loadModels().catch((e) => showError(e.message));
}

document.addEventListener('DOMContentLoaded', start);
