/* Findings filters and small conveniences. The page reads the same without this script: every finding is
   in the HTML, and the filters only hide rows. Nothing runs over all rows until a filter is used. */
(function () {
  "use strict";
  var form = document.getElementById("filters");
  if (!form) { return; }
  form.hidden = false;

  /* The "scrolls sideways" cue under a table exactly where it is cut (without script: on every narrow screen). */
  function markScrolling() {
    Array.prototype.forEach.call(document.querySelectorAll(".tscroll"), function (box) {
      var hint = box.nextElementSibling;
      if (hint && hint.classList.contains("scroll-hint")) {
        var cut = box.scrollWidth > box.clientWidth + 1;
        hint.classList.toggle("fits", !cut);
        hint.classList.toggle("cut", cut);
      }
    });
  }
  markScrolling();
  window.addEventListener("resize", markScrolling);
  var groups = Array.prototype.slice.call(document.querySelectorAll("details.check"));
  var chips = Array.prototype.slice.call(form.querySelectorAll("button[data-filter]"));
  var checkSelect = document.getElementById("filter-check");
  var integrationSelect = document.getElementById("filter-integration");
  var textInput = document.getElementById("filter-text");
  var countOut = document.getElementById("filter-count");
  var total = countOut.textContent;
  var rowsOf = new Map();
  var textOf = new Map();

  function rows(group) {
    var found = rowsOf.get(group);
    if (!found) {
      found = Array.prototype.slice.call(group.querySelectorAll("tr.finding"));
      rowsOf.set(group, found);
    }
    return found;
  }

  function pressed(kind) {
    var set = null;
    chips.forEach(function (chip) {
      if (chip.getAttribute("data-filter") === kind && chip.getAttribute("aria-pressed") === "true") {
        set = set || {};
        set[chip.getAttribute("data-value")] = true;
      }
    });
    return set;
  }

  function rowText(row) {
    var text = textOf.get(row);
    if (text === undefined) {
      text = row.textContent.toLowerCase();
      textOf.set(row, text);
    }
    return text;
  }

  function apply() {
    var statuses = pressed("status");
    var severities = pressed("severity");
    var check = checkSelect.selectedIndex > 0 ? checkSelect.value : null;
    var integration = integrationSelect.selectedIndex > 0 ? integrationSelect.value : null;
    var query = textInput.value.trim().toLowerCase();
    var active = Boolean(statuses || severities || check !== null || integration !== null || query);
    var shown = 0;
    groups.forEach(function (group) {
      var inCheck = check === null || group.getAttribute("data-check") === check;
      var visible = 0;
      rows(group).forEach(function (row) {
        var ok = inCheck &&
          (!statuses || statuses[row.getAttribute("data-status")] === true) &&
          (!severities || severities[row.getAttribute("data-severity")] === true) &&
          (integration === null || row.getAttribute("data-integration") === integration) &&
          (!query || rowText(row).indexOf(query) !== -1);
        row.hidden = !ok;
        if (ok) { visible += 1; }
      });
      group.hidden = visible === 0;
      group.open = active ? visible > 0 : group.hasAttribute("data-open");
      shown += visible;
    });
    countOut.textContent = active ? "Showing " + shown + " of " + total : total;
  }

  chips.forEach(function (chip) {
    chip.addEventListener("click", function () {
      chip.setAttribute("aria-pressed", chip.getAttribute("aria-pressed") === "true" ? "false" : "true");
      apply();
    });
  });
  /* Re-order the check groups; the page arrives sorted by status then severity, so without script it reads so. */
  var sortSelect = document.getElementById("sort-groups");
  var keys = {
    worst: ["data-status-rank", "data-severity-rank", "data-catalog"],
    severity: ["data-severity-rank", "data-status-rank", "data-catalog"],
    catalog: ["data-catalog"]
  };
  sortSelect.addEventListener("change", function () {
    var order = keys[sortSelect.value] || keys.worst;
    var sorted = groups.slice().sort(function (a, b) {
      for (var i = 0; i < order.length; i += 1) {
        var d = Number(a.getAttribute(order[i])) - Number(b.getAttribute(order[i]));
        if (d !== 0) { return d; }
      }
      return 0;
    });
    var parent = groups[0] ? groups[0].parentNode : null;
    sorted.forEach(function (group) { parent.appendChild(group); });
  });
  checkSelect.addEventListener("change", apply);
  integrationSelect.addEventListener("change", apply);
  var timer = null;
  textInput.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(apply, 150);
  });
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  document.getElementById("filter-reset").addEventListener("click", function () {
    chips.forEach(function (chip) { chip.setAttribute("aria-pressed", "false"); });
    checkSelect.selectedIndex = 0;
    integrationSelect.selectedIndex = 0;
    textInput.value = "";
    apply();
  });
  document.getElementById("expand-all").addEventListener("click", function () {
    groups.forEach(function (group) { if (!group.hidden) { group.open = true; } });
  });
  document.getElementById("collapse-all").addEventListener("click", function () {
    groups.forEach(function (group) { group.open = false; });
  });

  /* A link to a finding (from an integration or the sweep) opens its group and clears a filter hiding it. */
  function reveal() {
    var id = decodeURIComponent(location.hash.slice(1));
    var target = id ? document.getElementById(id) : null;
    if (!target || !target.classList.contains("finding")) { return; }
    if (target.hidden) { document.getElementById("filter-reset").click(); }
    var group = target.closest("details.check");
    if (group) { group.open = true; }
    target.classList.add("flash");
    target.scrollIntoView({ block: "center" });
    setTimeout(function () { target.classList.remove("flash"); }, 1600);
  }
  window.addEventListener("hashchange", reveal);
  reveal();

  /* Print what needs acting on expanded (groups with a FAIL or ERROR, evidence of anything not passing); passing
     evidence stays collapsed so the printout stays short. Then restore what the reader had open. */
  var closedBeforePrint = [];
  window.addEventListener("beforeprint", function () {
    closedBeforePrint = Array.prototype.slice.call(document.querySelectorAll(
      "details.check[data-open]:not([open]), details.evidence:not(.pass-evidence):not([open])"));
    closedBeforePrint.forEach(function (d) { d.open = true; });
  });
  window.addEventListener("afterprint", function () {
    closedBeforePrint.forEach(function (d) { d.open = false; });
    closedBeforePrint = [];
  });
}());
