// The dashboard's controls: each form with data-call="METHOD PATH" sends its fields to the
// control plane as JSON (the guard takes nothing else), from this page's own origin, shows
// the answer in #result and tells the live panels to ask again ("wan-changed").
"use strict";

function fieldsOf(form) {
  const body = {};
  for (const field of form.elements) {
    if (!field.name || field.disabled || field.value === "") continue;
    if ("json" in field.dataset) body[field.name] = JSON.parse(field.value);
    else if ("number" in field.dataset) body[field.name] = Number(field.value);
    else body[field.name] = field.value;
  }
  return body;
}

async function call(form) {
  const [method, path] = form.dataset.call.split(" ");
  const result = document.getElementById("result");
  let text;
  try {
    const response = await fetch(path, {
      method,
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(fieldsOf(form)),
      credentials: "same-origin",
    });
    text = `${method} ${path} -> ${response.status}\n${await response.text()}`;
  } catch (error) {
    text = `${method} ${path}: ${error.message}`;
  }
  result.textContent = text;
  if (window.htmx) htmx.trigger(document.body, "wan-changed");
}

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-call]");
  if (!form) return;
  event.preventDefault();
  call(form);
});

// The requests panel grows at its top as requests arrive; it keeps the latest 200.
document.addEventListener("htmx:oobAfterSwap", () => {
  const list = document.getElementById("exchange-list");
  while (list && list.children.length > 200) list.lastElementChild.remove();
});

// A task shown in the detail pane that no longer exists (the fake was reset) stops polling.
document.addEventListener("htmx:responseError", (event) => {
  const element = event.detail.elt;
  if (event.detail.xhr.status === 404 && element.classList.contains("live")) {
    const gone = document.createElement("p");
    gone.className = "hint";
    gone.textContent = "This task is gone: the fake was reset or forgot it.";
    element.replaceWith(gone);
  }
});
