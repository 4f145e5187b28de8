// Every score item's calculatedExpression of every shipped Questionnaire, evaluated by
// fhirpath.js (r4 model) on every vector's response, against the vector's hand-worked value
// (exactly: scores are rounded to their precision). Twice: with %questionnaire, as
// LHC-Forms evaluates, and without it, as Smart Forms 1.4.0 does (its context is only
// %resource and %rootResource, utils/fhirpath.js createFhirPathContext), where weight()
// finds each answer's weight on the Coding the form copied from the answerOption.
// Responses are built as service/catalog/vectors.py builds them. Run: make crosscheck.
'use strict';
const fs = require('fs');
const path = require('path');
const fhirpath = require('fhirpath');
const r4 = require('fhirpath/fhir-context/r4');

const FOLDER = process.env.QUESTIONNAIRES || path.resolve(__dirname, '../../questionnaires');
const WEIGHTS = [
  'http://hl7.org/fhir/StructureDefinition/itemWeight',
  'http://hl7.org/fhir/StructureDefinition/ordinalValue',
];
const VARIABLE = 'http://hl7.org/fhir/StructureDefinition/variable';
const CALCULATED =
  'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression';

function weightOf(option) {
  for (const e of option.extension || []) {
    if (WEIGHTS.includes(e.url)) return e.valueDecimal ?? e.valueInteger;
  }
  return null;
}

function answer(item, value) {
  if (item.type === 'choice' || item.type === 'open-choice') {
    const option = item.answerOption.find((o) =>
      typeof value === 'string' ? o.valueCoding.code === value : weightOf(o) === value);
    return { valueCoding: { ...option.valueCoding } };
  }
  if (item.type === 'boolean') return { valueBoolean: value };
  return item.type === 'integer' ? { valueInteger: value } : { valueDecimal: value };
}

function answered(node, answers) {
  const found = [];
  for (const item of node.item || []) {
    if (item.type === 'group') {
      const children = answered(item, answers);
      if (children.length) found.push({ linkId: item.linkId, item: children });
    } else if (item.linkId in answers) {
      found.push({ linkId: item.linkId, answer: [answer(item, answers[item.linkId])] });
    }
  }
  return found;
}

function variables(extensions, env, resource) {
  for (const e of extensions || []) {
    if (e.url === VARIABLE) {
      env[e.valueExpression.name] = fhirpath.evaluate(resource, e.valueExpression.expression, env, r4);
    }
  }
}

function scoreItems(items, found = []) {
  for (const item of items || []) {
    if ((item.extension || []).some((e) => e.url === CALCULATED)) found.push(item);
    scoreItems(item.item, found);
  }
  return found;
}

function agrees(got, expected) {
  if (expected === null) return got.length === 0;
  if (got.length !== 1) return false;
  if (typeof expected === 'boolean') return got[0] === expected;
  return typeof got[0] === 'number' && got[0] === expected;
}

let evaluated = 0;
let disagreements = 0;
for (const file of fs.readdirSync(FOLDER).filter((f) => f.endsWith('.vectors.json')).sort()) {
  const vectors = JSON.parse(fs.readFileSync(path.join(FOLDER, file)));
  const questionnaire = JSON.parse(
    fs.readFileSync(path.join(FOLDER, file.replace('.vectors.json', '.json'))));
  for (const vector of vectors.vectors) {
    const response = {
      resourceType: 'QuestionnaireResponse',
      questionnaire: `${questionnaire.url}|${questionnaire.version}`,
      status: vector.status,
    };
    const items = answered(questionnaire, vector.answers);
    if (items.length) response.item = items;
    const modes = {
      'with %questionnaire': { resource: response, questionnaire, context: response },
      'without %questionnaire': { resource: response, rootResource: response },
    };
    for (const [mode, base] of Object.entries(modes)) {
      const env = { ...base };
      variables(questionnaire.extension, env, response);
      for (const item of scoreItems(questionnaire.item)) {
        if (!(item.linkId in vector.expected)) continue;
        const scope = { ...env };
        variables(item.extension, scope, response);
        const source = item.extension.find((e) => e.url === CALCULATED).valueExpression.expression;
        let got;
        try {
          got = fhirpath.evaluate(response, source, scope, r4);
        } catch (error) {
          got = [`error: ${error.message}`];
        }
        evaluated += 1;
        if (!agrees(got, vector.expected[item.linkId])) {
          disagreements += 1;
          console.log(`${questionnaire.id} ${JSON.stringify(vector.name)} ${item.linkId} ` +
            `(${mode}): expected ${vector.expected[item.linkId]}, fhirpath.js ${JSON.stringify(got)}`);
        }
      }
    }
  }
}
console.log(`fhirpath.js ${require('fhirpath/package.json').version}: ` +
  `${evaluated} score expressions evaluated, ${disagreements} disagreements`);
process.exit(disagreements === 0 && evaluated > 0 ? 0 : 1);
