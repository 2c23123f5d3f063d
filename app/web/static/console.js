// adpilot console: the little JavaScript it ships (no other site is ever loaded).
// A button with data-confirm asks before its form is sent; without JavaScript the form's own
// required confirmation checkbox still guards it.
// The chat follows a run that is working (a list with data-events) by server-sent events: each
// event is an HTML fragment the server built, with an id — it replaces the element of that id, or
// is appended to the list; "end" replaces the run's status line and closes the stream. Without
// JavaScript the page shows the same items when reloaded.
"use strict";
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  const question = button && button.dataset ? button.dataset.confirm : null;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

function fragment(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  return template.content.firstElementChild;
}

function place(list, html) {
  const node = fragment(html);
  if (!node) {
    return;
  }
  const present = node.id ? document.getElementById(node.id) : null;
  if (present) {
    present.replaceWith(node);
  } else {
    list.appendChild(node);
  }
}

function follow(list) {
  const source = new EventSource(list.dataset.events);
  source.addEventListener("item", (event) => place(list, event.data));
  source.addEventListener("end", (event) => {
    source.close();
    place(list, event.data);
    list.removeAttribute("data-events");
  });
  source.onerror = () => source.close();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("ol[data-events]").forEach(follow);
  const text = document.getElementById("chat-text");
  if (text && document.getElementById("chat-log")) {
    text.focus();
  }
});
