// The shipped Questionnaires and their test vectors, and a vector's QuestionnaireResponse
// built as service/vectors.py builds it (`response_for`): a choice item gets the option
// whose itemWeight is the value (or whose code is the value, a string), other items the
// value as typed, groups nested as the Questionnaire's. Shared by tools/fhirpathjs/check.js
// (make crosscheck) and tools/renderers/run.js (make renderers); needs no npm package.
'use strict';
const fs = require('fs');
const path = require('path');

const FOLDER = path.resolve(__dirname, '../questionnaires');
const WEIGHTS = [
  'http://hl7.org/fhir/StructureDefinition/itemWeight',
  'http://hl7.org/fhir/StructureDefinition/ordinalValue',
];
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
    return { valueCoding: structuredClone(option.valueCoding) };
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

function responseFor(questionnaire, vector) {
  const response = {
    resourceType: 'QuestionnaireResponse',
    questionnaire: `${questionnaire.url}|${questionnaire.version}`,
    status: vector.status,
  };
  const items = answered(questionnaire, vector.answers);
  if (items.length) response.item = items;
  return response;
}

function scoreItems(items, found = []) {
  for (const item of items || []) {
    if ((item.extension || []).some((e) => e.url === CALCULATED)) found.push(item);
    scoreItems(item.item, found);
  }
  return found;
}

// Every `{id}.vectors.json` in `folder` (by name) with the Questionnaire `{id}.json` beside it.
function instruments(folder = FOLDER) {
  return fs.readdirSync(folder).filter((f) => f.endsWith('.vectors.json')).sort().map((f) => ({
    questionnaire: JSON.parse(fs.readFileSync(path.join(folder, f.replace('.vectors.json', '.json')))),
    vectors: JSON.parse(fs.readFileSync(path.join(folder, f))).vectors,
  }));
}

module.exports = { CALCULATED, instruments, responseFor, scoreItems };
