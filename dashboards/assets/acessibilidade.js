/* The Painel's Dash 4 widgets for keyboard and screen-reader users (issue 14).
 *
 * Dash gives no prop for these, so they are corrected as Dash draws them (attributes
 * only, never text a user typed), once per animation frame after any change:
 *
 * - dropdowns: the button itself is the Tab stop (Dash puts a focusable
 *   aria-hidden <input> before it, which screen readers announce as nothing) and it is
 *   named by its field's <label> as well as its value ("Departamento: Todos");
 * - the date range: the wrapper <div> loses button-only attributes (aria-haspopup,
 *   aria-expanded, an aria-labelledby of "undefined"); the calendar dialog, its year
 *   field and the year's +/- buttons get Portuguese names;
 * - radio items: Dash marks them as a listbox of options holding radio inputs; they
 *   become a named radiogroup of plain radios;
 * - the page gets a <main> landmark and a skip link over the menu, like the Flask pages.
 */
(function () {
  "use strict";
  var GROUP_NAMES = {"f-clock": "Tempos em", "trend-granularity": "Agrupar a tendência por"};
  var BUTTON_NAMES = {"Decrease value": "Diminuir o ano", "Increase value": "Aumentar o ano"};
  var WRAPPER_ATTRIBUTES = ["aria-haspopup", "aria-expanded", "aria-labelledby",
    "aria-disabled", "type"];

  function each(selector, action) {
    var found = document.querySelectorAll(selector);
    for (var i = 0; i < found.length; i += 1) { action(found[i]); }
  }
  function set(element, name, value) {
    if (element.getAttribute(name) !== value) { element.setAttribute(name, value); }
  }
  function drop(element, name) {
    if (element.hasAttribute(name)) { element.removeAttribute(name); }
  }

  function dropdowns() {
    each(".dash-dropdown-focus-target", function (input) { set(input, "tabindex", "-1"); });
    each("button.dash-dropdown", function (button) {
      if (button.disabled) { return; }
      set(button, "tabindex", "0");
      var label = button.id && document.querySelector("label[for='" + button.id + "']");
      if (!label) { return; }
      if (!label.id) { label.id = button.id + "-label"; }
      var ids = (button.getAttribute("aria-labelledby") || "").split(/\s+/)
        .filter(function (id) { return id && id !== label.id; });
      set(button, "aria-labelledby", [label.id].concat(ids).join(" "));
    });
  }

  function datePicker() {
    each(".dash-datepicker-input-wrapper", function (wrapper) {
      WRAPPER_ATTRIBUTES.forEach(function (name) { drop(wrapper, name); });
    });
    each(".dash-datepicker-content[role=dialog]", function (dialog) {
      set(dialog, "aria-label", "Calendário");
    });
    each(".dash-datepicker-controls input[type=number]", function (year) {
      set(year, "aria-label", "Ano");
    });
    each(".dash-datepicker-controls button[aria-label]", function (button) {
      var name = BUTTON_NAMES[button.getAttribute("aria-label")];
      if (name) { set(button, "aria-label", name); }
    });
  }

  function radioItems() {
    each(".dash-radioitems[role=listbox]", function (group) {
      set(group, "role", "radiogroup");
    });
    each(".dash-radioitems[role=radiogroup]", function (group) {
      var name = GROUP_NAMES[group.id];
      if (name) { set(group, "aria-label", name); }
      each("#" + group.id + " > .dash-options-list-option", function (option) {
        drop(option, "role");
        drop(option, "aria-selected");
      });
    });
  }

  function landmarks() {
    var entry = document.getElementById("react-entry-point");
    if (!entry || entry.hasAttribute("role")) { return; }
    entry.setAttribute("role", "main");
    entry.id = entry.id || "react-entry-point";
    entry.setAttribute("tabindex", "-1");
    var skip = document.createElement("a");
    skip.className = "skip-link";
    skip.href = "#react-entry-point";
    skip.textContent = "Pular para o conteúdo";
    document.body.insertBefore(skip, document.body.firstChild);
  }

  var pending = false;
  function fixAll() {
    pending = false;
    landmarks();
    dropdowns();
    datePicker();
    radioItems();
  }
  function schedule() {
    if (!pending) { pending = true; window.requestAnimationFrame(fixAll); }
  }
  function start() {
    fixAll();
    new MutationObserver(schedule).observe(document.body, {
      childList: true, subtree: true, attributes: true,
      attributeFilter: ["tabindex", "aria-labelledby", "aria-expanded", "role",
        "aria-selected", "aria-label"]});
  }
  if (document.body) { start(); } else { document.addEventListener("DOMContentLoaded", start); }
}());
