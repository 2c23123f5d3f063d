// adpilot console: the little JavaScript it ships (no other site is ever loaded).
// A button with data-confirm asks before its form is sent; without JavaScript the form's own
// required confirmation checkbox still guards it.
"use strict";
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  const question = button && button.dataset ? button.dataset.confirm : null;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
