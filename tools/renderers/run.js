// The renderer matrix (make renderers): every shipped Questionnaire rendered in LHC-Forms
// and in CSIRO Smart Forms in headless Chromium (Debian's /usr/bin/chromium), each test
// vector's response loaded into the form, the scores the renderer computed read back and
// compared with the vector's hand-worked values and with this server's $score of the
// renderer's own response. Writes docs/renderers.md.
'use strict';
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const { spawn, execFileSync } = require('child_process');
const { chromium } = require('playwright-core');
const { instruments, responseFor, scoreItems } = require('../vectors');

const HERE = __dirname;
const ROOT = path.resolve(HERE, '../..');
const BUILD = path.join(HERE, 'build');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];
const SETTLE_MS = Number(process.env.SETTLE_MS || 400);
const ONLY = process.env.ONLY ? process.env.ONLY.split(',') : null;

function build() {
  fs.mkdirSync(BUILD, { recursive: true });
  execFileSync(path.join(HERE, 'node_modules/.bin/esbuild'), [
    path.join(HERE, 'src/smartforms.jsx'), '--bundle', '--minify', '--log-level=warning',
    `--outfile=${path.join(BUILD, 'smartforms.js')}`, '--loader:.js=jsx',
    '--loader:.woff=file', '--loader:.woff2=file', '--loader:.ttf=file',
    '--define:process.env.NODE_ENV="production"',
  ], { stdio: 'inherit' });
  for (const page of ['smartforms.html', 'lforms.html']) {
    fs.copyFileSync(path.join(HERE, 'src', page), path.join(BUILD, page));
  }
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css',
  '.woff': 'font/woff', '.woff2': 'font/woff2', '.png': 'image/png', '.map': 'application/json' };

function staticServer() {
  const roots = { '/lforms/': path.join(HERE, 'node_modules/lforms/dist/lforms/'), '/': BUILD + '/' };
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const prefix = Object.keys(roots).find((p) => url.startsWith(p));
    const file = path.normalize(path.join(roots[prefix], url.slice(prefix.length)));
    if (!file.startsWith(roots[prefix]) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startService() {
  const port = await freePort();
  const env = { ...process.env, RAPPORT_BIND: `127.0.0.1:${port}`, RAPPORT_WORKERS: '1' };
  const child = spawn(path.join(ROOT, '.venv/bin/gunicorn'),
    ['-c', 'gunicorn.conf.py', 'service.wsgi:app'], { cwd: ROOT, env, stdio: 'ignore' });
  // Never leave the server behind, however this process ends.
  process.on('exit', () => child.kill());
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGPIPE', 'SIGHUP']) {
    process.on(signal, () => process.exit(130));
  }
  const base = `http://127.0.0.1:${port}/fhir`;
  for (let i = 0; i < 200; i += 1) {
    try {
      if ((await fetch(`${base}/metadata`)).ok) return { child, base };
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('the service did not start');
}

async function serverScores(base, response) {
  const reply = await fetch(`${base}/QuestionnaireResponse/$score`, {
    method: 'POST', headers: { 'content-type': 'application/fhir+json' },
    body: JSON.stringify(response),
  });
  const body = await reply.json();
  if (reply.status !== 200) {
    const texts = (body.issue || []).filter((i) => i.severity === 'error')
      .map((i) => `${i.diagnostics || (i.details || {}).text} at ${(i.expression || []).join(', ')}`);
    return { error: `${reply.status} ${texts.join('; ')}` };
  }
  const filled = body.parameter.find((p) => p.name === 'response').resource;
  const issues = (body.parameter.find((p) => p.name === 'issues') || {}).resource;
  return { scores: scoresIn(filled), issues: issues ? issues.issue : [] };
}

function scoresIn(response, found = {}) {
  const walk = (items) => {
    for (const item of items || []) {
      const value = (item.answer || [])[0];
      if (value) {
        for (const key of ['valueDecimal', 'valueInteger', 'valueBoolean']) {
          if (key in value) found[item.linkId] = value[key];
        }
        if (value.valueQuantity) found[item.linkId] = value.valueQuantity.value;
      }
      walk(item.item);
      for (const a of item.answer || []) walk(a.item);
    }
  };
  walk(response.item);
  return found;
}

const RENDERERS = {
  'LHC-Forms': {
    page: 'lforms.html',
    ready: () => window.LForms && LForms.Util && LForms.Util.convertFHIRQuestionnaireToLForms,
    version: () => require('lforms/package.json').version,
    async load(page, questionnaire, response) {
      await page.evaluate(async ([q, qr]) => {
        const form = document.getElementById('form');
        form.innerHTML = '';
        let data = LForms.Util.convertFHIRQuestionnaireToLForms(q, 'R4');
        if (!qr.item) {  // an empty form, as a user first sees it
          await LForms.Util.addFormToPage(data, form, { fhirVersion: 'R4' });
          return;
        }
        data = LForms.Util.mergeFHIRDataIntoLForms('QuestionnaireResponse', qr, data, 'R4');
        // Loaded as saved data, LHC-Forms keeps the response's calculated values and runs
        // no calculatedExpression; cleared, it computes them as when a user fills the form.
        data.hasSavedData = false;
        await LForms.Util.addFormToPage(data, form, { fhirVersion: 'R4' });
      }, [questionnaire, response]);
    },
    read: (page) => page.evaluate(() =>
      LForms.Util.getFormFHIRData('QuestionnaireResponse', 'R4', document.getElementById('form'))),
  },
  'Smart Forms': {
    page: 'smartforms.html',
    ready: () => window.smartForms,
    version: () => require('@aehrc/smart-forms-renderer/package.json').version,
    async load(page, questionnaire, response) {
      await page.evaluate(([q, qr]) => window.smartForms.render(q, qr), [questionnaire, response]);
    },
    read: (page) => page.evaluate(() => window.smartForms.response()),
  },
};

function same(got, expected) {
  if (expected === null) return got === undefined;
  return got === expected;
}

// What the page shows of a slider item (EBI): the control and how often each anchor appears.
async function sliderView(page, questionnaire) {
  const slider = questionnaire.item.find((i) => i.type === 'integer' && i.item);
  if (!slider) return null;
  const anchors = slider.item.map((i) => i.text);
  return page.evaluate(([text, labels]) => {
    const body = document.body.innerText;
    const count = (s) => body.split(s).length - 1;
    return {
      sliders: document.querySelectorAll('input[type=range]').length,
      textBoxes: document.querySelectorAll('#form input[type=text], #form input[type=number]').length,
      placeholders: [...new Set([...document.querySelectorAll('#form input[placeholder]')]
        .map((e) => e.placeholder))],
      helpButtons: document.querySelectorAll('.lhc-help-button').length,
      anchorCounts: labels.map(count),
      questionShown: count(text) > 0,
    };
  }, [slider.text, anchors]);
}

// Known limits, by renderer: what the matrix measures (see the slider columns and the
// $score column) and what reading the renderer's source shows.
const LIMITS = {
  'LHC-Forms': [
    'No slider control: an EBI item is a number box; the `entryFormat` hint `0–100` is its ' +
      'placeholder in an empty form (a response merged in with `mergeFHIRDataIntoLForms` ' +
      'loses it). Of the two `lower`/`upper` anchor items it shows only the last (the upper ' +
      'anchor) as help text behind a "?" button.',
    'A response loaded as saved data (`mergeFHIRDataIntoLForms`) keeps its stored scores and ' +
      'runs no calculatedExpression until an answer changes; the matrix clears ' +
      '`hasSavedData`, so the form computes as when a user fills it.',
  ],
  'Smart Forms': [
    'Scores only with the weights on the answer Codings (with them on the answerOptions ' +
      'alone, as before, it computed no score: 2 of 16 PHQ-9 vectors agreed, those whose ' +
      'scores are all withheld): its FHIRPath context has no ' +
      '`%questionnaire` (utils/fhirpath.js `createFhirPathContext`), and fhirpath.js `weight()` ' +
      'then reads the itemWeight the answer\'s Coding carries (the shipped content puts it on ' +
      'each answerOption\'s valueCoding as well as on the answerOption).',
    'An EBI slider shows each anchor twice, by the design of its slider: once in the labels ' +
      'above it and again on its end marks, which take the same labels when the scale has more ' +
      'than 20 steps (utils/slider.js `getSliderMarks`). Content cannot avoid it within SDC: ' +
      'a `sliderStepValue` of 5 would (20 steps) but would change the instrument\'s 1-point ' +
      'resolution, and marking the anchor items `questionnaire-hidden` changes nothing ' +
      '(measured: still 12 of each).',
    'A form with nothing answered is saved with `"item": []` (also after ' +
      '`removeEmptyAnswersFromResponse`); FHIR JSON forbids empty arrays, so `$score` refuses ' +
      'it (422, `qr-empty-array`). This alone causes the differences in its $score column.',
    'From its source (utils/calculatedExpression.js, not measured here): a calculated value ' +
      'is updated only when the expression gives a value, so a score shown once stays when an ' +
      'answer is later cleared; the server then withholds it and reports `score-differs`.',
  ],
};

function report(versions, rows) {
  const byInstrument = {};
  for (const r of rows) (byInstrument[r.instrument] ||= {})[r.renderer] = r;
  const names = Object.keys(RENDERERS);
  const lines = [
    '# Renderer compatibility',
    '',
    'Every shipped Questionnaire rendered in each form filler in headless Chromium, each test',
    'vector\'s response loaded into the form, the scores the renderer computed read back from',
    'the response it would save, and compared with the vector\'s hand-worked values and with',
    'this server\'s `$score` of that same response (scores equal, and no `score-differs`).',
    '',
    `Produced by \`make renderers\` (tools/renderers/run.js) with ${versions.join(', ')}, `
      + `Debian chromium (${chromiumVersion()}), npm packages pinned by `
      + 'tools/renderers/package-lock.json. Run on ' + new Date().toISOString().slice(0, 10) + '.',
    '',
    '| instrument | ' + names.map((n) => `${n}: renders | = vectors | = $score`).join(' | ') + ' |',
    '|---|' + names.map(() => '---|---|---|').join(''),
  ];
  for (const [instrument, cells] of Object.entries(byInstrument)) {
    lines.push(`| ${instrument} | ` + names.map((n) => {
      const r = cells[n];
      return r ? `${r.rendered}/${r.vectors} | ${r.equalExpected}/${r.vectors} | ${r.equalServer}/${r.vectors}`
        : '– | – | –';
    }).join(' | ') + ' |');
  }
  lines.push('', '## Sliders (EBI, items 0–100)', '',
    '| renderer | slider controls | text boxes | placeholder | "?" help buttons | times each anchor is shown (6 items) |',
    '|---|---|---|---|---|---|');
  for (const r of rows.filter((x) => x.slider)) {
    const v = r.slider;
    lines.push(`| ${r.renderer} | ${v.sliders} | ${v.textBoxes} | ${v.placeholders.join(', ') || '–'} | `
      + `${v.helpButtons} | ${v.anchorCounts.join(', ')} |`);
  }
  lines.push('', '## Known limits', '');
  for (const n of names) {
    lines.push(`**${n}**`, '');
    for (const limit of LIMITS[n]) lines.push(`- ${limit}`);
    lines.push('');
  }
  const misses = rows.flatMap((r) => r.mismatches.map((m) => `- ${r.renderer}, ${r.instrument}, `
    + `"${m.vector}": ${m.error || `renderer ${JSON.stringify(m.renderer)}, $score ${JSON.stringify(m.server)}`}`));
  lines.push('## Every difference of this run', '', ...(misses.length ? misses : ['- none']), '');
  return lines.join('\n');
}

function chromiumVersion() {
  try {
    return execFileSync(CHROMIUM, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString().trim();
  } catch {
    return 'version unknown';
  }
}

async function main() {
  build();
  const statics = await staticServer();
  const site = `http://127.0.0.1:${statics.address().port}`;
  const service = await startService();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  const rows = [];
  const notes = [];
  try {
    for (const [name, renderer] of Object.entries(RENDERERS)) {
      const page = await browser.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e.message).slice(0, 200)));
      await page.goto(`${site}/${renderer.page}`);
      await page.waitForFunction(renderer.ready, null, { timeout: 30000 });
      for (const { questionnaire, vectors } of instruments()) {
        if (ONLY && !ONLY.includes(questionnaire.id)) continue;
        const scoreLinks = scoreItems(questionnaire.item).map((i) => i.linkId);
        const row = { renderer: name, instrument: questionnaire.id, vectors: vectors.length,
          rendered: 0, equalExpected: 0, equalServer: 0, mismatches: [], slider: null };
        const before = errors.length;
        await renderer.load(page, questionnaire, { resourceType: 'QuestionnaireResponse',
          questionnaire: `${questionnaire.url}|${questionnaire.version}`, status: 'in-progress' });
        await page.waitForTimeout(SETTLE_MS);
        row.slider = await sliderView(page, questionnaire);
        for (const vector of vectors) {
          const response = responseFor(questionnaire, vector);
          try {
            await renderer.load(page, questionnaire, response);
            await page.waitForTimeout(SETTLE_MS);
            const first = questionnaire.item.find((i) => i.type !== 'display');
            const shown = await page.evaluate((t) => document.body.innerText.includes(t), first.text);
            if (shown) row.rendered += 1;
            const filled = await renderer.read(page);
            // The app decides the status it saves with: the vector's (partial ones in-progress).
            filled.status = vector.status;
            const got = scoresIn(filled);
            const expectedOk = scoreLinks.every((l) => same(got[l], vector.expected[l]));
            if (expectedOk) row.equalExpected += 1;
            const server = await serverScores(service.base, filled);
            const serverOk = !server.error && scoreLinks.every((l) => same(got[l], server.scores[l]))
              && !server.issues.some((i) => /score-differs/.test(JSON.stringify(i)));
            if (serverOk) row.equalServer += 1;
            if (!expectedOk || !serverOk) {
              row.mismatches.push({ vector: vector.name,
                renderer: Object.fromEntries(scoreLinks.map((l) => [l, got[l] ?? null])),
                expected: vector.expected, server: server.error || server.scores });
            }
          } catch (error) {
            row.mismatches.push({ vector: vector.name, error: String(error.message).slice(0, 300) });
          }
        }
        row.pageErrors = errors.slice(before);
        rows.push(row);
        console.log(`${name} ${questionnaire.id}: rendered ${row.rendered}/${row.vectors}, ` +
          `= vectors ${row.equalExpected}/${row.vectors}, = $score ${row.equalServer}/${row.vectors}`);
      }
      notes.push(`${name} ${renderer.version()}`);
      await page.close();
    }
  } finally {
    await browser.close();
    service.child.kill();
    statics.close();
  }
  const out = path.join(HERE, 'build', 'results.json');
  fs.writeFileSync(out, JSON.stringify({ versions: notes, rows }, null, 2));
  console.log(`results: ${path.relative(ROOT, out)}`);
  if (!ONLY) {
    fs.writeFileSync(path.join(ROOT, 'docs', 'renderers.md'), report(notes, rows));
    console.log('table: docs/renderers.md');
  }
  // Only a renderer score that differs from the hand-worked value fails the run; $score
  // refusals that the known limits explain are in the table.
  process.exit(rows.some((r) => r.rendered < r.vectors || r.equalExpected < r.vectors) ? 1 : 0);
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
