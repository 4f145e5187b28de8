// Every score item's calculatedExpression of every shipped Questionnaire, evaluated by
// fhirpath.js (r4 model) on every vector's response, against the vector's hand-worked value
// (exactly: scores are rounded to their precision). Twice: with %questionnaire, as
// LHC-Forms evaluates, and without it, as Smart Forms 1.4.0 does (its context is only
// %resource and %rootResource, utils/fhirpath.js createFhirPathContext), where weight()
// finds each answer's weight on the Coding the form copied from the answerOption.
// Responses are built as service/vectors.py builds them (tools/vectors.js); QUESTIONNAIRES
// names another folder. Run: make crosscheck.
'use strict';
const fhirpath = require('fhirpath');
const r4 = require('fhirpath/fhir-context/r4');
const { CALCULATED, instruments, responseFor, scoreItems } = require('../vectors');

const VARIABLE = 'http://hl7.org/fhir/StructureDefinition/variable';

function variables(extensions, env, resource) {
  for (const e of extensions || []) {
    if (e.url === VARIABLE) {
      env[e.valueExpression.name] = fhirpath.evaluate(resource, e.valueExpression.expression, env, r4);
    }
  }
}

function agrees(got, expected) {
  if (expected === null) return got.length === 0;
  if (got.length !== 1) return false;
  if (typeof expected === 'boolean') return got[0] === expected;
  return typeof got[0] === 'number' && got[0] === expected;
}

let evaluated = 0;
let disagreements = 0;
for (const { questionnaire, vectors } of instruments(process.env.QUESTIONNAIRES)) {
  for (const vector of vectors) {
    const response = responseFor(questionnaire, vector);
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
