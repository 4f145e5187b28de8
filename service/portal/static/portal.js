// The portal's only script, and optional: copy buttons, and a slider beside each slider
// item's number field. Without it every page still works (the number field is the answer).
"use strict";

document.querySelectorAll("button.copy").forEach((button) => {
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  button.hidden = false;
  button.addEventListener("click", () => {
    const done = () => { button.textContent = "Copied"; };
    if (navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent).then(done, () => select(source));
    } else {
      select(source);
    }
  });
});

function select(element) {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

// A slider starts unanswered (an empty number field); moving it fills the field, and typing
// in the field moves it.
document.querySelectorAll("input.slider-control").forEach((slider) => {
  const field = document.getElementById(slider.dataset.for);
  if (!field) return;
  slider.hidden = false;
  if (field.value !== "") slider.value = field.value;
  slider.addEventListener("input", () => { field.value = slider.value; });
  field.addEventListener("input", () => { if (field.value !== "") slider.value = field.value; });
});

// enableWhen, live: an item whose conditions do not hold is hidden and its fields disabled,
// so they are not sent (SDC: a disabled item is unanswered). The server's $validate judges
// the submission in any case; without this script every item stays shown.
const conditional = [...document.querySelectorAll("[data-enable-when]")];

function answers(linkId) {
  return [...document.getElementsByName("a:" + linkId)]
    .filter((field) => !field.disabled)
    .filter((field) => (field.type === "radio" || field.type === "checkbox") ? field.checked : field.value !== "")
    .map((field) => field.value);
}

function holds(condition) {
  const given = answers(condition.question);
  const wanted = condition.value;
  const compare = { ">": (a, b) => a > b, "<": (a, b) => a < b, ">=": (a, b) => a >= b, "<=": (a, b) => a <= b };
  switch (condition.operator) {
    case "exists": return (given.length > 0) === (wanted === "true");
    case "=": return given.includes(wanted);
    case "!=": return given.length > 0 && !given.includes(wanted);
    default: return given.some((value) => {
      const [a, b] = isNaN(value) || isNaN(wanted) ? [value, wanted] : [Number(value), Number(wanted)];
      return compare[condition.operator](a, b);
    });
  }
}

function refresh() {
  for (const element of conditional) {  // document order: a question before what it enables
    const rule = JSON.parse(element.dataset.enableWhen);
    const enabled = rule.behavior === "all" ? rule.conditions.every(holds) : rule.conditions.some(holds);
    element.hidden = !enabled;
    element.querySelectorAll("input, textarea").forEach((field) => {
      if (!field.classList.contains("slider-control")) field.disabled = !enabled;
    });
  }
}

if (conditional.length) {
  document.addEventListener("change", refresh);
  document.addEventListener("input", refresh);
  refresh();
}
